import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { RequestValidationError } from '../http/api-errors.js';
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

/**
 * PATCH: an absent field keeps its value; null `phone_number` clears it and null `metadata`
 * empties it. `email` and `name` cannot be cleared, so null is refused (`refuseNullRequired`)
 * rather than quietly ignored.
 */
export class UpdateCustomerDto {
  @ApiPropertyOptional({ type: String, maxLength: LIMITS.emailLengthMax })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MaxLength(LIMITS.emailLengthMax)
  @IsEmail()
  email?: string | null;

  @ApiPropertyOptional({ type: String, minLength: 1, maxLength: LIMITS.nameLengthMax })
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

const REQUIRED_ON_UPDATE = ['email', 'name'] as const;

/**
 * One clear message for a null `email` or `name`. (Done here and not with decorators:
 * class-validator would either skip every check on null or report each of them.)
 */
export function refuseNullRequired(body: UpdateCustomerDto): void {
  const fields = Object.fromEntries(
    REQUIRED_ON_UPDATE.filter((field) => body[field] === null).map((field) => [
      field,
      [`${field} cannot be null; leave it out to keep the current ${field}`],
    ]),
  );
  const names = Object.keys(fields);
  if (names.length === 0) return;
  const summary = names.map((field) => `${field}: ${fields[field][0]}`).join('. ');
  throw new RequestValidationError(`Invalid request. ${summary}`, { fields });
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
