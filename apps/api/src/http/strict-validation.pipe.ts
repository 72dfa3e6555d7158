import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { RequestValidationError } from './api-errors.js';

/**
 * class-validator with every option spelled out: unknown fields are refused (a
 * client cannot set a balance, business or id), nothing is coerced implicitly, and
 * failures become our own `VALIDATION_FAILED` error.
 */
export class StrictValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: false },
      stopAtFirstError: false,
      exceptionFactory: (errors: ValidationError[]) => toValidationError(errors),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new RequestValidationError('The request body must be a JSON object.');
    }
    return super.transform(value, metadata);
  }
}

function toValidationError(errors: ValidationError[]): RequestValidationError {
  const fields: Record<string, string[]> = {};
  const walk = (list: ValidationError[], path: string) => {
    for (const error of list) {
      const field = path === '' ? error.property : `${path}.${error.property}`;
      if (error.constraints) fields[field] = Object.values(error.constraints);
      if (error.children?.length) walk(error.children, field);
    }
  };
  walk(errors, '');
  const summary = Object.entries(fields)
    .map(([field, problems]) => `${field}: ${problems.join('; ')}`)
    .join('. ');
  return new RequestValidationError(`Invalid request. ${summary}`.slice(0, 1000), { fields });
}
