import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { LIMITS } from '../http/limits.js';
import { PageQueryDto } from '../http/page-query.dto.js';
import { IsFlatStringMap } from '../http/validators.js';

const PHONE = /^\+?[0-9][0-9 ()-]{2,31}$/;
const METADATA_SCHEMA = { type: 'object', additionalProperties: { type: 'string' } } as const;

export class CreateCustomerDto {
  @ApiProperty({ maxLength: LIMITS.emailLengthMax, example: 'ada@example.com' })
  @IsString()
  @MaxLength(LIMITS.emailLengthMax)
  @IsEmail()
  email!: string;

  @ApiProperty({ minLength: 1, maxLength: LIMITS.nameLengthMax, example: 'Ada Lovelace' })
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.nameLengthMax)
  name!: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: LIMITS.phoneLengthMax, example: '+15550100' })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.phoneLengthMax)
  @Matches(PHONE, { message: 'phone_number must look like a phone number, e.g. +15550100' })
  phone_number?: string | null;

  @ApiPropertyOptional({ ...METADATA_SCHEMA, maxProperties: LIMITS.metadataKeysMax })
  @IsOptional()
  @IsFlatStringMap()
  metadata?: Record<string, string>;
}

/** PATCH: absent or null `email`/`name` keep the current value; null `phone_number` clears it; null `metadata` empties it. */
export class UpdateCustomerDto {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: LIMITS.emailLengthMax })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MaxLength(LIMITS.emailLengthMax)
  @IsEmail()
  email?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, minLength: 1, maxLength: LIMITS.nameLengthMax })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.nameLengthMax)
  name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: LIMITS.phoneLengthMax })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.phoneLengthMax)
  @Matches(PHONE, { message: 'phone_number must look like a phone number, e.g. +15550100' })
  phone_number?: string | null;

  @ApiPropertyOptional({ ...METADATA_SCHEMA, nullable: true, maxProperties: LIMITS.metadataKeysMax })
  @IsOptional()
  @IsFlatStringMap()
  metadata?: Record<string, string> | null;
}

export class ListCustomersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ maxLength: LIMITS.emailLengthMax, description: 'Only customers with exactly this email' })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.emailLengthMax)
  email?: string;
}

export class CustomerResponse {
  @ApiProperty({ example: 'cus_3f9a0c1d2e4b5a6978c0d1e2' }) customer_id!: string;
  @ApiProperty() business_id!: string;
  @ApiProperty() email!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: String, nullable: true }) phone_number!: string | null;
  @ApiProperty(METADATA_SCHEMA) metadata!: Record<string, string>;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class CustomerListResponse {
  @ApiProperty({ type: [CustomerResponse] }) items!: CustomerResponse[];
}
