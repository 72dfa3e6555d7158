import { Controller, Get, Inject, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../../../../libs/domain/src/index.js';
import type { EventStore } from '../../../../libs/event-store/src/event-store.port.js';
import { auditOneCustomer } from '../../../../libs/ledger/src/audit/audit.js';
import type { AuditReport } from '../../../../libs/ledger/src/audit/audit.types.js';
import { ActiveReadModels } from '../../../../libs/ledger/src/projections/active-read-models.js';
import { scanningLogHead } from '../../../../libs/ledger/src/projections/log-head.js';
import { EVENT_STORE, READ_MODELS } from '../../../../libs/ledger/src/tokens.js';
import type { ReadModelStore } from '../../../../libs/read-models/src/read-model.port.js';
import { Public } from '../http/auth.guard.js';
import { CustomerIdPipe } from '../http/customer-id.pipe.js';
import { ErrorResponse } from '../http/openapi.js';
import { AdminKeyGuard } from './admin-key.guard.js';

/** Lag is counted up to this many events, so an audit request stays cheap when the projector is far behind. */
const LAG_SCAN_MAX = 10_000;

/**
 * Operator routes, behind ADMIN_API_KEYS. `@Public()` takes them out of the business-key
 * guard (which would refuse an admin key); `AdminKeyGuard` is what protects them.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin')
export class AdminController {
  constructor(
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Inject(READ_MODELS) private readonly readModels: ReadModelStore,
  ) {}

  @Get('customers/:customer_id/audit')
  @ApiOperation({
    summary: 'Replay one customer and verify the read models against the events',
    description:
      'Same report as `ledger audit --customer <id> --json`: ok, the checkpoint audited at, totals and every discrepancy ' +
      '(customer, currency, kind, what the events say and what the read models say). Needs an ADMIN_API_KEYS key.',
  })
  @ApiOkResponse({ description: 'The audit report (ok is false when a discrepancy was found)', schema: { type: 'object' } })
  @ApiForbiddenResponse({ description: 'A business API key: admin routes need an ADMIN_API_KEYS key', type: ErrorResponse })
  async audit(@Param('customer_id', CustomerIdPipe) customerId: string): Promise<AuditReport> {
    const report = await auditOneCustomer(
      {
        eventStore: this.eventStore,
        readModels: this.readModels,
        readModelVersion: this.readModels instanceof ActiveReadModels ? this.readModels.activeVersion : null,
        logHead: scanningLogHead(this.eventStore, LAG_SCAN_MAX),
      },
      customerId,
    );
    if (report.totals.events === 0 && report.ok)
      throw new DomainError('CUSTOMER_NOT_FOUND', `Customer ${customerId} was not found.`);
    return report;
  }
}
