import type { EntryDirection, Metadata } from '#domain';
import { CUSTOMER_ID_PATTERN } from '../ids.js';

/**
 * One line of an import file, read into what it asks the ledger to do. Pure: no I/O, no ids.
 *
 * NDJSON, one object a line:
 *   {"type":"customer","ref":"acme-42","email":"a@acme.test","name":"Acme","phone_number":null,"metadata":{}}
 *   {"type":"opening_balance","customer":"acme-42","currency":"USD","amount":1000}
 *   {"type":"entry","customer":"acme-42","entry_type":"debit","currency":"USD","amount":250,"reason":"API usage","occurred_at":"2024-05-01T10:00:00Z"}
 * CSV: a header naming the same fields (type, ref, email, name, phone_number, customer, customer_id,
 * currency, amount, entry_type, reason, occurred_at), then one record a line (no line breaks inside fields).
 * `customer` names a `ref` from a customer line of the file; `customer_id` names a customer already in the ledger.
 */
export type CustomerRef = { readonly ref: string } | { readonly customerId: string };

export type ImportOperation =
  | {
      readonly kind: 'customer';
      readonly ref: string;
      readonly email: string;
      readonly name: string;
      readonly phoneNumber: string | null;
      readonly metadata: Metadata;
    }
  | { readonly kind: 'opening_balance'; readonly customer: CustomerRef; readonly currency: string; readonly amountMinor: number }
  | {
      readonly kind: 'entry';
      readonly customer: CustomerRef;
      readonly direction: EntryDirection;
      readonly currency: string;
      readonly amountMinor: number;
      readonly reason: string | null;
      readonly occurredAt: string;
    };

/** A line that cannot be imported as written; its message goes to the report. */
export class ImportLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportLineError';
  }
}

export const IMPORT_LIMITS = {
  lineLengthMax: 64 * 1024,
  refLengthMax: 128,
  emailLengthMax: 254,
  nameLengthMax: 200,
  phoneLengthMax: 32,
  reasonLengthMax: 500,
  metadataKeysMax: 50,
  metadataKeyLengthMax: 40,
  metadataValueLengthMax: 500,
} as const;

const CURRENCY = /^[A-Z]{3}$/;
const REF = new RegExp(`^[\\x21-\\x7e]{1,${IMPORT_LIMITS.refLengthMax}}$`);
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  customer: ['type', 'ref', 'email', 'name', 'phone_number', 'metadata'],
  opening_balance: ['type', 'customer', 'customer_id', 'currency', 'amount'],
  entry: ['type', 'customer', 'customer_id', 'entry_type', 'currency', 'amount', 'reason', 'occurred_at'],
};

export function parseNdjsonLine(text: string): ImportOperation {
  if (text.length > IMPORT_LIMITS.lineLengthMax) throw new ImportLineError(`line longer than ${IMPORT_LIMITS.lineLengthMax} characters`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ImportLineError('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ImportLineError('not a JSON object');
  return toOperation(value as Record<string, unknown>, false);
}

/** Reads a CSV header; returns the parser of the lines after it. */
export function csvLineParser(header: string): (text: string) => ImportOperation {
  const columns = splitCsv(header).map((c) => c.trim());
  const known = new Set(Object.values(FIELDS).flat());
  const unknown = columns.filter((c) => !known.has(c));
  if (!columns.includes('type') || unknown.length > 0 || new Set(columns).size !== columns.length) {
    throw new ImportLineError(`the CSV header must name a type column and only known, distinct columns (${[...known].join(', ')})${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}`);
  }
  return (text) => {
    if (text.length > IMPORT_LIMITS.lineLengthMax) throw new ImportLineError(`line longer than ${IMPORT_LIMITS.lineLengthMax} characters`);
    const cells = splitCsv(text);
    if (cells.length !== columns.length) throw new ImportLineError(`${cells.length} fields, the header has ${columns.length}`);
    const record: Record<string, unknown> = {};
    // An empty cell is an absent field.
    columns.forEach((column, i) => {
      if (cells[i] !== '') record[column] = cells[i];
    });
    return toOperation(record, true);
  };
}

function toOperation(record: Record<string, unknown>, fromCsv: boolean): ImportOperation {
  const type = record.type;
  if (typeof type !== 'string' || !(type in FIELDS)) throw new ImportLineError('type must be customer, opening_balance or entry');
  const extra = Object.keys(record).filter((key) => !FIELDS[type].includes(key));
  if (extra.length > 0) throw new ImportLineError(`unknown field(s) for ${type}: ${extra.join(', ')}`);
  switch (type) {
    case 'customer':
      return {
        kind: 'customer',
        ref: ref(record.ref, 'ref'),
        email: email(record.email),
        name: boundedString(record.name, 'name', 1, IMPORT_LIMITS.nameLengthMax),
        phoneNumber: record.phone_number === undefined || record.phone_number === null ? null : boundedString(record.phone_number, 'phone_number', 1, IMPORT_LIMITS.phoneLengthMax),
        metadata: metadata(record.metadata),
      };
    case 'opening_balance':
      return { kind: 'opening_balance', customer: customerRef(record), currency: currency(record.currency), amountMinor: amount(record.amount, fromCsv) };
    case 'entry': {
      if (record.entry_type !== 'credit' && record.entry_type !== 'debit') throw new ImportLineError('entry_type must be credit or debit');
      return {
        kind: 'entry',
        customer: customerRef(record),
        direction: record.entry_type,
        currency: currency(record.currency),
        amountMinor: amount(record.amount, fromCsv),
        reason: record.reason === undefined || record.reason === null ? null : boundedString(record.reason, 'reason', 0, IMPORT_LIMITS.reasonLengthMax),
        occurredAt: timestamp(record.occurred_at),
      };
    }
    default:
      throw new ImportLineError('type must be customer, opening_balance or entry');
  }
}

function customerRef(record: Record<string, unknown>): CustomerRef {
  if ((record.customer === undefined) === (record.customer_id === undefined)) {
    throw new ImportLineError('give exactly one of customer (a ref from this file) and customer_id (a customer already in the ledger)');
  }
  if (record.customer !== undefined) return { ref: ref(record.customer, 'customer') };
  if (typeof record.customer_id !== 'string' || !CUSTOMER_ID_PATTERN.test(record.customer_id)) throw new ImportLineError('customer_id must look like cus_…');
  return { customerId: record.customer_id };
}

function ref(value: unknown, field: string): string {
  if (typeof value !== 'string' || !REF.test(value)) throw new ImportLineError(`${field} must be 1 to ${IMPORT_LIMITS.refLengthMax} printable ASCII characters without spaces`);
  return value;
}

function email(value: unknown): string {
  if (typeof value !== 'string' || value.length > IMPORT_LIMITS.emailLengthMax || !/^[^\s@]+@[^\s@]+$/.test(value)) {
    throw new ImportLineError('email must be an email address');
  }
  return value;
}

function boundedString(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'string' || value.length < min || value.length > max) throw new ImportLineError(`${field} must be a string of ${min} to ${max} characters`);
  return value;
}

function metadata(value: unknown): Metadata {
  if (value === undefined || value === null) return {};
  const entries = typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : null;
  const ok =
    entries !== null &&
    entries.length <= IMPORT_LIMITS.metadataKeysMax &&
    entries.every(([k, v]) => k.length > 0 && k.length <= IMPORT_LIMITS.metadataKeyLengthMax && typeof v === 'string' && v.length <= IMPORT_LIMITS.metadataValueLengthMax);
  if (!ok) throw new ImportLineError(`metadata must be an object of at most ${IMPORT_LIMITS.metadataKeysMax} short string values`);
  return Object.fromEntries(entries as Array<[string, string]>);
}

function currency(value: unknown): string {
  if (typeof value !== 'string' || !CURRENCY.test(value)) throw new ImportLineError('currency must be an upper-case ISO-4217 code such as USD');
  return value;
}

function amount(value: unknown, fromCsv: boolean): number {
  const number = fromCsv && typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) throw new ImportLineError('amount must be a whole number of minor units from 1');
  return number;
}

function timestamp(value: unknown): string {
  if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ImportLineError('occurred_at must be an ISO-8601 timestamp with a time zone, e.g. 2024-05-01T10:00:00Z');
  }
  return new Date(value).toISOString();
}

/** One CSV record on one line (RFC 4180 quoting, "" for a quote inside a quoted field). */
export function splitCsv(text: string): string[] {
  const cells: string[] = [];
  let i = 0;
  const line = text.endsWith('\r') ? text.slice(0, -1) : text;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      i += 1;
      for (;;) {
        if (i >= line.length) throw new ImportLineError('unterminated quoted field');
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        cell += line[i];
        i += 1;
      }
      cells.push(cell);
      if (i === line.length) return cells;
      if (line[i] !== ',') throw new ImportLineError('a quoted field must be followed by a comma or the end of the line');
      i += 1;
    } else {
      const comma = line.indexOf(',', i);
      if (comma === -1) {
        cells.push(line.slice(i));
        return cells;
      }
      cells.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}
