import { Transform } from 'class-transformer';
import { registerDecorator, type ValidationOptions } from 'class-validator';
import { LIMITS } from './limits.js';

/** A flat map of short string keys to short string values, bounded in size. */
export function IsFlatStringMap(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isFlatStringMap',
      target: target.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be an object of at most ${LIMITS.metadataKeysMax} string values (keys up to ${LIMITS.metadataKeyLengthMax} characters, values up to ${LIMITS.metadataValueLengthMax})`,
        ...options,
      },
      validator: { validate: isFlatStringMap },
    });
}

function isFlatStringMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const entries = Object.entries(value);
  return (
    entries.length <= LIMITS.metadataKeysMax &&
    entries.every(
      ([key, v]) =>
        key.length > 0 &&
        key.length <= LIMITS.metadataKeyLengthMax &&
        typeof v === 'string' &&
        v.length <= LIMITS.metadataValueLengthMax,
    )
  );
}

/** Query strings arrive as text: accept only plain digits, leave anything else for the validator to refuse. */
export const ToStrictInt = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value));

/**
 * An amount in minor units: one rule, one message. (`@IsInt @Min @Max` would answer
 * `"100"` with three messages, two of them about a range the string is not even in.)
 */
export function IsMinorUnits(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isMinorUnits',
      target: target.constructor,
      propertyName,
      options: {
        message: ({ value }) =>
          typeof value === 'number' && Number.isInteger(value)
            ? `${propertyName} must be from 1 to ${Number.MAX_SAFE_INTEGER} minor units`
            : `${propertyName} must be an integer number of minor units`,
        ...options,
      },
      validator: { validate: (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 1 },
    });
}
