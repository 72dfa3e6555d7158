import { Controller, Get, Header, Headers, Inject, NotFoundException } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { ReadModelStore } from '#read-models';
import { LEDGER_CONFIG, LEDGER_METRICS, READ_MODELS, type LedgerConfig, type LedgerMetrics } from '#ledger';
import { UnauthorizedError } from '../http/api-errors.js';
import { Public } from '../http/auth.guard.js';
import { METRICS_UNAUTHORIZED, PROMETHEUS_CONTENT_TYPE, metricsAllowed } from '../http/metrics-endpoint.js';

class HealthResponse {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
  @ApiProperty({ type: 'integer', nullable: true, description: 'Global position the read models have reached' })
  projection_checkpoint!: number | null;
}

class LiveResponse {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModelStore,
    @Inject(LEDGER_METRICS) private readonly metrics: LedgerMetrics,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  /** Readiness: the stores answer. Also served at /health/ready. */
  @Public()
  @Get(['health', 'health/ready'])
  @ApiOkResponse({ type: HealthResponse })
  async health(): Promise<HealthResponse> {
    return { status: 'ok', projection_checkpoint: await this.readModels.checkpoint() };
  }

  /** Liveness: the process runs its event loop; touches nothing, so a slow store cannot get it killed. */
  @Public()
  @Get('health/live')
  @ApiOkResponse({ type: LiveResponse })
  live(): LiveResponse {
    return { status: 'ok' };
  }

  @Public()
  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('content-type', PROMETHEUS_CONTENT_TYPE)
  async prometheus(@Headers('authorization') authorization: string | undefined): Promise<string> {
    // With METRICS_PORT the metrics live on that listener only (see startMetricsServer).
    if (this.config.metricsPort !== null) throw new NotFoundException();
    if (!metricsAllowed(this.config.metricsToken, authorization)) throw new UnauthorizedError(METRICS_UNAUTHORIZED.message);
    return this.metrics.registry.metrics();
  }
}
