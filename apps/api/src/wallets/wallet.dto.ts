import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { LIMITS } from '../http/limits.js';
import { PageQueryDto } from '../http/page-query.dto.js';
import { IsMinorUnits } from '../http/validators.js';

export const CURRENCY = /^[A-Z]{3}$/;
/** Printable ASCII only: keys end up in logs, metadata and comparisons byte for byte. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]+$/;

export class CreateLedgerEntryDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Positive amount in the currency\'s minor unit' })
  @IsMinorUnits()
  amount!: number;

  @ApiProperty({ example: 'USD', pattern: CURRENCY.source, description: 'ISO-4217 code of a supported currency' })
  @IsString()
  @Matches(CURRENCY, { message: 'currency must be an upper-case ISO-4217 code such as USD' })
  currency!: string;

  @ApiProperty({ enum: ['credit', 'debit'] })
  @IsIn(['credit', 'debit'])
  entry_type!: 'credit' | 'debit';

  @ApiPropertyOptional({ type: String, nullable: true, minLength: 1, maxLength: LIMITS.idempotencyKeyLengthMax, pattern: IDEMPOTENCY_KEY.source })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.idempotencyKeyLengthMax)
  @Matches(IDEMPOTENCY_KEY, { message: 'idempotency_key must be printable ASCII without spaces' })
  idempotency_key?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: LIMITS.reasonLengthMax })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.reasonLengthMax)
  reason?: string | null;
}

export class ListLedgerEntriesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'USD', pattern: CURRENCY.source })
  @IsOptional()
  @IsString()
  @Matches(CURRENCY, { message: 'currency must be an upper-case ISO-4217 code such as USD' })
  currency?: string;
}

export class CustomerWalletResponse {
  @ApiProperty({ type: 'integer', description: 'Balance in minor units' }) balance!: number;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty() customer_id!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

export class WalletListResponse {
  @ApiProperty({ type: [CustomerWalletResponse] }) items!: CustomerWalletResponse[];
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'All balances converted to US cents with the configured rates, summed exactly and rounded once to the nearest cent (halves up)',
  })
  total_balance_usd!: number;
}

export class CustomerWalletTransactionResponse {
  @ApiProperty() id!: string;
  @ApiProperty() customer_id!: string;
  @ApiProperty() business_id!: string;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) amount!: number;
  @ApiProperty() is_credit!: boolean;
  @ApiProperty({ type: 'integer' }) before_balance!: number;
  @ApiProperty({ type: 'integer' }) after_balance!: number;
  @ApiProperty({ enum: ['merchant_adjustment'] }) event_type!: 'merchant_adjustment';
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty({ type: String, nullable: true }) reference_object_id!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class LedgerEntryListResponse {
  @ApiProperty({ type: [CustomerWalletTransactionResponse] }) items!: CustomerWalletTransactionResponse[];
}
