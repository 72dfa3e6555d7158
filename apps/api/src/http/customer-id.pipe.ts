import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError } from '#domain';
import { CUSTOMER_ID_PATTERN } from '#ledger';

/** An id that cannot exist is answered like any unknown customer: 404, without touching the store. */
@Injectable()
export class CustomerIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!CUSTOMER_ID_PATTERN.test(value)) throw new DomainError('CUSTOMER_NOT_FOUND', 'Customer was not found.');
    return value;
  }
}
