import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { QueryBus } from '@nestjs/cqrs';
import { AuditCustomerQuery, type AuditReport } from '#ledger';
import { Public } from '../http/auth.guard.js';
import { CustomerIdPipe } from '../http/customer-id.pipe.js';
import { ErrorResponse } from '../http/openapi.js';
import { AdminKeyGuard } from './admin-key.guard.js';
import { auditReportToWire, type AuditReportResponse } from './audit-wire.js';

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
  constructor(private readonly queries: QueryBus) {}

  @Get('customers/:customer_id/audit')
  @ApiOperation({
    summary: 'Replay one customer and verify the read models against the events',
    description:
      'Same report as `ledger audit --customer <id> --json`, in snake_case: ok, the checkpoint audited at, totals and every ' +
      'discrepancy (customer, currency, kind, what the events say and what the read models say). Needs an ADMIN_API_KEYS key.',
  })
  @ApiOkResponse({ description: 'The audit report (ok is false when a discrepancy was found)', schema: { type: 'object' } })
  @ApiForbiddenResponse({ description: 'A business API key: admin routes need an ADMIN_API_KEYS key', type: ErrorResponse })
  async audit(@Param('customer_id', CustomerIdPipe) customerId: string): Promise<AuditReportResponse> {
    const report = await this.queries.execute<AuditCustomerQuery, AuditReport>(new AuditCustomerQuery(customerId));
    return auditReportToWire(report);
  }
}
