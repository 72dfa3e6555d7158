import { CUSTOMER_ID_PATTERN as CUSTOMER_ID, type LedgerEntryInput } from '#ledger';
import { LIMITS } from '../http/limits.js';
import { CURRENCY, IDEMPOTENCY_KEY } from './wallet.dto.js';

/**
 * Validation of a batch body without class-validator: one pass of plain checks per entry
 * instead of instantiating and reflecting over a DTO 1,000 times. The rules and the
 * messages are those of `CreateLedgerEntryDto` (the single route), so an entry is refused
 * in the same words whichever route carries it; `ledger-entries-batch.e2e.spec.ts`
 * compares the two routes' answers on the same bad entries.
 */

const ENTRY_FIELDS = new Set(['customer_id', 'amount', 'currency', 'entry_type', 'reason', 'idempotency_key']);

export type EntryCheck =
  | { readonly kind: 'valid'; readonly customerId: string; readonly input: LedgerEntryInput }
  /** A customer id that cannot exist: answered like any unknown customer, as the single route's path pipe does. */
  | { readonly kind: 'unknown-customer' }
  | { readonly kind: 'invalid'; readonly fields: Record<string, string[]> };

/** The body's own shape: what fails here fails the whole request, with one 400. */
export function entriesOf(body: unknown, entriesMax: number): { ok: true; entries: readonly unknown[] } | { ok: false; message: string; fields: Record<string, string[]> } {
  // StrictValidationPipe has already refused a body that is not a JSON object.
  const record = body as Record<string, unknown>;
  const fields: Record<string, string[]> = {};
  for (const key of Object.keys(record)) if (key !== 'entries') fields[key] = [`property ${key} should not exist`];
  const entries = record.entries;
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > entriesMax) {
    fields.entries = [`entries must be an array of 1 to ${entriesMax} ledger entries`];
  }
  if (Object.keys(fields).length > 0) return { ok: false, message: validationMessage(fields), fields };
  return { ok: true, entries: entries as unknown[] };
}

export function checkEntry(entry: unknown): EntryCheck {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { kind: 'invalid', fields: { entry: ['each entry must be a JSON object'] } };
  }
  const e = entry as Record<string, unknown>;
  const fields: Record<string, string[]> = {};
  const problem = (field: string, message: string) => (fields[field] ??= []).push(message);

  for (const key of Object.keys(e)) if (!ENTRY_FIELDS.has(key)) problem(key, `property ${key} should not exist`);

  if (typeof e.customer_id !== 'string') problem('customer_id', 'customer_id must be a string');

  const amount = e.amount;
  if (!(Number.isSafeInteger(amount) && (amount as number) >= 1)) {
    problem(
      'amount',
      typeof amount === 'number' && Number.isInteger(amount)
        ? `amount must be from 1 to ${Number.MAX_SAFE_INTEGER} minor units`
        : 'amount must be an integer number of minor units',
    );
  }

  const currency = e.currency;
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    problem('currency', 'currency must be an upper-case ISO-4217 code such as USD');
    if (typeof currency !== 'string') problem('currency', 'currency must be a string');
  }

  if (e.entry_type !== 'credit' && e.entry_type !== 'debit') problem('entry_type', 'entry_type must be one of the following values: credit, debit');

  const key = e.idempotency_key;
  if (key !== undefined && key !== null) {
    if (typeof key !== 'string') {
      problem('idempotency_key', 'idempotency_key must be printable ASCII without spaces');
      problem('idempotency_key', `idempotency_key must be shorter than or equal to ${LIMITS.idempotencyKeyLengthMax} characters`);
      problem('idempotency_key', 'idempotency_key must be longer than or equal to 1 characters');
      problem('idempotency_key', 'idempotency_key must be a string');
    } else {
      if (!IDEMPOTENCY_KEY.test(key)) problem('idempotency_key', 'idempotency_key must be printable ASCII without spaces');
      if (key.length > LIMITS.idempotencyKeyLengthMax) {
        problem('idempotency_key', `idempotency_key must be shorter than or equal to ${LIMITS.idempotencyKeyLengthMax} characters`);
      }
      if (key.length < 1) problem('idempotency_key', 'idempotency_key must be longer than or equal to 1 characters');
    }
  }

  const reason = e.reason;
  if (reason !== undefined && reason !== null) {
    if (typeof reason !== 'string') {
      problem('reason', `reason must be shorter than or equal to ${LIMITS.reasonLengthMax} characters`);
      problem('reason', 'reason must be a string');
    } else if (reason.length > LIMITS.reasonLengthMax) {
      problem('reason', `reason must be shorter than or equal to ${LIMITS.reasonLengthMax} characters`);
    }
  }

  if (Object.keys(fields).length > 0) return { kind: 'invalid', fields };
  if (!CUSTOMER_ID.test(e.customer_id as string)) return { kind: 'unknown-customer' };
  return {
    kind: 'valid',
    customerId: e.customer_id as string,
    input: {
      direction: e.entry_type as 'credit' | 'debit',
      currency: currency as string,
      amountMinor: amount as number,
      reason: (reason as string | null | undefined) ?? null,
      idempotencyKey: (key as string | null | undefined) ?? null,
    },
  };
}

/** The single route's wording: `Invalid request. field: problem; problem. field: problem`. */
export function validationMessage(fields: Record<string, string[]>): string {
  const summary = Object.entries(fields).map(([field, problems]) => `${field}: ${problems.join('; ')}`).join('. ');
  return `Invalid request. ${summary}`.slice(0, 1000);
}
