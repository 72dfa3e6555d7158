import { Inject } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { DomainError, type DeciderConfig } from '#domain';
import type { LedgerEntryView, ReadModelStore } from '#read-models';
import { requireCustomer } from '../read-side/require-customer.js';
import { DECIDER_CONFIG, READ_MODELS } from '../tokens.js';
import { ListLedgerEntriesQuery } from './list-ledger-entries.query.js';

@QueryHandler(ListLedgerEntriesQuery)
export class ListLedgerEntriesHandler implements IQueryHandler<ListLedgerEntriesQuery, LedgerEntryView[]> {
  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModelStore,
    @Inject(DECIDER_CONFIG) private readonly decider: DeciderConfig,
  ) {}

  async execute(query: ListLedgerEntriesQuery): Promise<LedgerEntryView[]> {
    const { businessId, customerId, pageNumber, pageSize, currency } = query;
    if (currency !== undefined && !this.decider.currencies.has(currency)) {
      throw new DomainError('WALLET.UNSUPPORTED_CURRENCY', `Currency ${currency} is not supported.`, {
        supported: [...this.decider.currencies.keys()],
      });
    }
    await requireCustomer(this.readModels, businessId, customerId);
    return this.readModels.listLedgerEntries(customerId, { pageNumber, pageSize, currency });
  }
}
