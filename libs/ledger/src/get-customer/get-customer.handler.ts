import { Inject } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { CustomerView, ReadModelStore } from '#read-models';
import { requireCustomer } from '../read-side/require-customer.js';
import { READ_MODELS } from '../tokens.js';
import { GetCustomerQuery } from './get-customer.query.js';

@QueryHandler(GetCustomerQuery)
export class GetCustomerHandler implements IQueryHandler<GetCustomerQuery, CustomerView> {
  constructor(@Inject(READ_MODELS) private readonly readModels: ReadModelStore) {}

  execute({ businessId, customerId }: GetCustomerQuery): Promise<CustomerView> {
    return requireCustomer(this.readModels, businessId, customerId);
  }
}
