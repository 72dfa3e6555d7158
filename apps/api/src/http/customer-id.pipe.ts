import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError } from '#domain';
import { LIMITS } from './limits.js';

const CUSTOMER_ID = new RegExp(`^cus_[A-Za-z0-9]{1,${LIMITS.customerIdLengthMax - 4}}$`);

/** An id that cannot exist is answered like any unknown customer: 404, without touching the store. */
@Injectable()
export class CustomerIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!CUSTOMER_ID.test(value)) throw new DomainError('CUSTOMER_NOT_FOUND', 'Customer was not found.');
    return value;
  }
}
