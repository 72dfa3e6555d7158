import 'reflect-metadata';
import { Body, Controller, Get, Headers, HttpCode, Module, Param, Post } from '@nestjs/common';
import { APP_FILTER, APP_PIPE, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiErrorFilter } from '../apps/api/src/http/api-error.filter.js';
import { UnauthorizedError } from '../apps/api/src/http/api-errors.js';
import { CustomerIdPipe } from '../apps/api/src/http/customer-id.pipe.js';
import { StrictValidationPipe } from '../apps/api/src/http/strict-validation.pipe.js';
import { CreateLedgerEntryDto, type CustomerWalletResponse } from '../apps/api/src/wallets/wallet.dto.js';
import { loadLedgerConfig } from '#ledger';
import { fastifyOptions } from '../apps/api/src/create-app.js';

/**
 * The framework ceiling: the real app's HTTP stack (Fastify with the same adapter
 * options, the global StrictValidationPipe and ApiErrorFilter, the same customer-id
 * pipe and DTO) in front of a handler that does no work and answers a constant wallet.
 * No event store, no read models, no CQRS bus. The auth guard is replaced by a plain
 * header comparison. Started by run-bench.ts with the same environment as the API.
 */

const config = loadLedgerConfig(process.env);
const expectedAuthorization = `Bearer ${config.apiKeys[0].key}`;
const STAMP = '2025-01-01T00:00:00.000Z';

@Controller('customers/:customer_id/wallets')
class CeilingWalletsController {
  @Post('ledger-entries')
  @HttpCode(200)
  createEntry(
    @Headers('authorization') authorization: string | undefined,
    @Param('customer_id', CustomerIdPipe) customerId: string,
    @Body() body: CreateLedgerEntryDto,
  ): CustomerWalletResponse {
    if (authorization !== expectedAuthorization) throw new UnauthorizedError('The API key is not valid.');
    // Same shape and about the same size as the real answer; the values are constant.
    return { balance: 424242, currency: body.currency, customer_id: customerId, created_at: STAMP, updated_at: STAMP };
  }
}

@Controller('health')
class CeilingHealthController {
  @Get()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

@Module({
  controllers: [CeilingWalletsController, CeilingHealthController],
  providers: [
    { provide: APP_FILTER, useClass: ApiErrorFilter },
    { provide: APP_PIPE, useClass: StrictValidationPipe },
  ],
})
class CeilingModule {}

async function main(): Promise<void> {
  const adapter = new FastifyAdapter(fastifyOptions(config));
  const app = await NestFactory.create<NestFastifyApplication>(CeilingModule, adapter, { logger: ['fatal', 'error', 'warn'] });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
