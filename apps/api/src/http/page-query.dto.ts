import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { LIMITS } from './limits.js';
import { ToStrictInt } from './validators.js';

/** `page_number` (0-based) and `page_size`, shared by every list route. */
export class PageQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: LIMITS.pageNumberMax, default: 0, description: '0-based page number' })
  @IsOptional()
  @ToStrictInt()
  @IsInt()
  @Min(0)
  @Max(LIMITS.pageNumberMax)
  page_number?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: LIMITS.pageSizeMax, default: LIMITS.pageSizeDefault })
  @IsOptional()
  @ToStrictInt()
  @IsInt()
  @Min(1)
  @Max(LIMITS.pageSizeMax)
  page_size?: number;
}
