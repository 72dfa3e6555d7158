import { randomBytes } from 'node:crypto';

/** `cus_…`, `wle_…`: 96 random bits, hex, so ids are unguessable and URL-safe. */
export function newId(prefix: 'cus' | 'wle'): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
