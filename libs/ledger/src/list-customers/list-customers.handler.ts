import { Inject } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { CustomerView, ReadModelStore } from '#read-models';
import { READ_MODELS } from '../tokens.js';
import { ListCustomersQuery } from './list-customers.query.js';

@QueryHandler(ListCustomersQuery)
export class ListCustomersHandler implements IQueryHandler<ListCustomersQuery, CustomerView[]> {
  constructor(@Inject(READ_MODELS) private readonly readModels: ReadModelStore) {}

  execute({ businessId, pageNumber, pageSize, email }: ListCustomersQuery): Promise<CustomerView[]> {
    return this.readModels.listCustomers(businessId, { pageNumber, pageSize, email });
  }
}
