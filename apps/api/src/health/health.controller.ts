import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { ReadModelStore } from '../../../../libs/read-models/src/read-model.port.js';
import { LEDGER_METRICS, READ_MODELS, type LedgerMetrics } from '../../../../libs/ledger/src/index.js';
import { Public } from '../http/auth.guard.js';

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
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
