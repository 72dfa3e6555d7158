import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorResponse } from '../http/openapi.js';
import { LIMITS } from '../http/limits.js';
import { CustomerWalletResponse } from './wallet.dto.js';

/*
 * OpenAPI shapes of the batch route. The body is validated by `ledger-entries-batch.validator.ts`
 * (one compiled pass per entry), not by class-validator, so these classes carry no validators.
 */

export class BatchLedgerEntryDto {
  @ApiProperty({ example: 'cus_0a1b2c3d4e5f', description: 'A customer of the calling business; any other id is a per-entry 404' })
  customer_id!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Positive amount in the currency\'s minor unit' })
  amount!: number;

  @ApiProperty({ example: 'USD', pattern: '^[A-Z]{3}$' })
  currency!: string;

  @ApiProperty({ enum: ['credit', 'debit'] })
  entry_type!: 'credit' | 'debit';

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: LIMITS.reasonLengthMax })
  reason?: string | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    minLength: 1,
    maxLength: LIMITS.idempotencyKeyLengthMax,
    pattern: '^[\\x21-\\x7e]+$',
    description: 'Scoped to the customer. Resending the same entry with the same key returns the original outcome; a different entry with it gets IDEMPOTENCY_KEY_REUSED.',
  })
  idempotency_key?: string | null;
}

export class LedgerEntriesBatchDto {
  @ApiProperty({
    type: [BatchLedgerEntryDto],
    minItems: 1,
    description: 'Up to BATCH_ENTRIES_MAX (default 1,000) entries and BATCH_BODY_LIMIT_BYTES (default 1 MiB); entries of one customer apply in array order',
  })
  entries!: BatchLedgerEntryDto[];
}

export class BatchEntryResult {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Position of the entry in the request' }) index!: number;
  @ApiProperty({ type: 'integer', example: 200, description: 'The status the single-entry route would have answered' }) status!: number;
  @ApiPropertyOptional({ type: CustomerWalletResponse, description: 'On 200: the wallet right after this entry (or after the original, for a replayed key)' })
  wallet?: CustomerWalletResponse;
  @ApiPropertyOptional({ type: ErrorResponse, description: 'On any other status: why this entry was not applied' })
  error?: ErrorResponse;
}

export class LedgerEntriesBatchResponse {
  @ApiProperty({ type: [BatchEntryResult], description: 'One result per entry, in request order' }) results!: BatchEntryResult[];
}
