import { Inject } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { DomainError } from '#domain';
import { scanningLogHead, type EventStore } from '#event-store';
import type { ReadModelStore } from '#read-models';
import { auditOneCustomer } from '../audit/audit.js';
import type { AuditReport } from '../audit/audit.types.js';
import { ActiveReadModels } from '../read-side/versions/active-read-models.js';
import { EVENT_STORE, READ_MODELS } from '../tokens.js';
import { AuditCustomerQuery } from './audit-customer.query.js';

/** Lag is counted up to this many events, so an audit request stays cheap when the projector is far behind. */
const LAG_SCAN_MAX = 10_000;

@QueryHandler(AuditCustomerQuery)
export class AuditCustomerHandler implements IQueryHandler<AuditCustomerQuery, AuditReport> {
  constructor(
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Inject(READ_MODELS) private readonly readModels: ReadModelStore,
  ) {}

  async execute({ customerId }: AuditCustomerQuery): Promise<AuditReport> {
    const report = await auditOneCustomer(
      {
        eventStore: this.eventStore,
        readModels: this.readModels,
        readModelVersion: this.readModels instanceof ActiveReadModels ? this.readModels.activeVersion : null,
        logHead: scanningLogHead(this.eventStore, LAG_SCAN_MAX),
      },
      customerId,
    );
    // A customer with no events at all does not exist (an audit never creates one).
    if (report.totals.events === 0 && report.ok) throw new DomainError('CUSTOMER_NOT_FOUND', `Customer ${customerId} was not found.`);
    return report;
  }
}
