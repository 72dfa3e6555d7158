import { Controller, Get, Header, Headers, Inject, NotFoundException, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { EventStore } from '#event-store';
import type { ReadModelStore } from '#read-models';
import {
  checkProjectionHealth,
  EVENT_STORE,
  LEDGER_CONFIG,
  LEDGER_METRICS,
  PROJECTOR_RUNNER,
  READ_MODELS,
  WALLET_PROJECTOR,
  type LedgerConfig,
  type LedgerMetrics,
  type ProjectorRunner,
  type WalletProjector,
} from '#ledger';
import { UnauthorizedError } from '../http/api-errors.js';
import { Public } from '../http/auth.guard.js';
import { METRICS_UNAUTHORIZED, PROMETHEUS_CONTENT_TYPE, metricsAllowed } from '../http/metrics-endpoint.js';
import { notReadyMessage, Readiness, READINESS_DEADLINE_MS, READINESS_REUSE_MS, type ReadinessReport } from './readiness.js';

class HealthResponse {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
  @ApiProperty({ type: 'integer', nullable: true, description: 'Global position the read models have reached' })
  projection_checkpoint!: number | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'event_store (head_position, latency_ms), read_models (latency_ms) and, when this process projects, projection (state, heartbeat_at, lag_positions, problems)',
  })
  checks!: ReadinessChecks;
}

class NotReadyResponse {
  @ApiProperty({ enum: ['NOT_READY'] }) code!: 'NOT_READY';
  @ApiProperty() message!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) checks!: ReadinessChecks;
}

type ReadinessChecks = Omit<ReadinessReport, 'ready' | 'projection_checkpoint'>;

class LiveResponse {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

@ApiTags('health')
@Controller()
export class HealthController {
  private readonly readiness: Readiness;

  constructor(
    @Inject(READ_MODELS) readModels: ReadModelStore,
    @Inject(EVENT_STORE) eventStore: EventStore,
    @Inject(PROJECTOR_RUNNER) runner: ProjectorRunner,
    @Inject(WALLET_PROJECTOR) projector: WalletProjector,
    @Inject(LEDGER_METRICS) private readonly metrics: LedgerMetrics,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {
    this.readiness = new Readiness({
      eventStore,
      readModels,
      // With PROJECTOR_MODE=external the projector process reports its own health.
      projection: config.projectorMode === 'inprocess' ? () => checkProjectionHealth({ runner, projector }, eventStore) : null,
      deadlineMs: READINESS_DEADLINE_MS,
      reuseMs: READINESS_REUSE_MS,
    });
  }

  /**
   * Readiness: the event store and the read models answer within a deadline and, in in-process
   * mode, the projection is not stalled or refused; 503 NOT_READY otherwise. Also at /health/ready.
   */
  @Public()
  @Get(['health', 'health/ready'])
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: NotReadyResponse })
  async health(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthResponse | NotReadyResponse> {
    const { ready, projection_checkpoint, ...checks } = await this.readiness.check();
    if (ready) return { status: 'ok', projection_checkpoint, checks };
    // Answered, not thrown: a probe every few seconds is not an error to log with a stack.
    void reply.status(503);
    return { code: 'NOT_READY', message: notReadyMessage({ ready, projection_checkpoint, ...checks }), checks };
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
