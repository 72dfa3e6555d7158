import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { ReadModelStore } from '../../../../libs/read-models/src/read-model.port.js';
import { READ_MODELS } from '../../../../libs/ledger/src/index.js';
import { Public } from '../http/auth.guard.js';

class HealthResponse {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
  @ApiProperty({ type: 'integer', nullable: true, description: 'Global position the read models have reached' })
  projection_checkpoint!: number | null;
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@Inject(READ_MODELS) private readonly readModels: ReadModelStore) {}

  @Public()
  @Get()
  @ApiOkResponse({ type: HealthResponse })
  async health(): Promise<HealthResponse> {
    // Touching the read models proves the store answers, not just that the process is up.
    return { status: 'ok', projection_checkpoint: await this.readModels.checkpoint() };
  }
}
