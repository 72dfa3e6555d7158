import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiProperty, ApiPropertyOptional, DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { LedgerConfig } from '#ledger';

export class ErrorResponse {
  @ApiProperty({ example: 'VALIDATION_FAILED', description: 'Stable, machine-readable code' }) code!: string;
  @ApiProperty({ description: 'What went wrong, for a person' }) message!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) details?: Record<string, unknown>;
}

const ERROR_STATUSES: Readonly<Record<string, string>> = {
  '400': 'Invalid input, or a business rule refused it (e.g. WALLET.INSUFFICIENT_BALANCE)',
  '401': 'Missing or unknown API key',
  '404': 'No such customer (or it belongs to another business), or no such route',
  '422': 'IDEMPOTENCY_KEY_REUSED, WALLET.BALANCE_OVERFLOW or WALLET.TOTAL_BALANCE_OVERFLOW',
  '429': 'Rate limited; see Retry-After',
  '431': 'Request headers too large (HEADERS_TOO_LARGE)',
  '503': 'Busy (CONTENTION) or shutting down (SERVICE_UNAVAILABLE); safe to retry',
};
const BODY_ERROR_STATUSES: Readonly<Record<string, string>> = {
  '408': 'The body did not arrive within the request timeout (REQUEST_TIMEOUT)',
  '413': 'Body too large',
  '415': 'Body is not application/json',
};

type Operation = { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown[]; parameters?: Array<Record<string, unknown>> };

/**
 * Builds the OpenAPI document and makes it say what the server really does: every
 * error answer, bodies that refuse unknown fields, and the configured currencies.
 * Fuzzers (schemathesis) hold the server to this document.
 */
export function mountOpenApi(app: NestFastifyApplication, config: LedgerConfig): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Wallet ledger')
      .setDescription('Event-sourced customer wallets, wire-compatible with the Dodo Payments customer-wallet API.')
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
    { extraModels: [ErrorResponse] },
  );
  describeErrors(document);
  closeRequestSchemas(document, config.currencies.map((c) => c.code));
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
  return document;
}

function describeErrors(document: OpenAPIObject): void {
  const errorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } };
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as Operation[]) {
      if (typeof operation !== 'object' || operation === null || !('responses' in operation)) continue;
      const statuses = { ...ERROR_STATUSES, ...(operation.requestBody ? BODY_ERROR_STATUSES : {}) };
      for (const [status, description] of Object.entries(statuses)) {
        operation.responses[status] ??= { description, ...errorRef };
      }
    }
  }
}

function closeRequestSchemas(document: OpenAPIObject, currencies: readonly string[]): void {
  const schemas = (document.components?.schemas ?? {}) as Record<string, { additionalProperties?: boolean; properties?: Record<string, Record<string, unknown>> }>;
  for (const [name, schema] of Object.entries(schemas)) {
    if (!name.endsWith('Dto')) continue;
    schema.additionalProperties = false;
    if (schema.properties?.currency) schema.properties.currency.enum = [...currencies];
  }
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as Operation[]) {
      for (const parameter of operation?.parameters ?? []) {
        if (parameter.name === 'currency' && parameter.in === 'query') {
          parameter.schema = { ...(parameter.schema as object), enum: [...currencies] };
        }
      }
    }
  }
}
