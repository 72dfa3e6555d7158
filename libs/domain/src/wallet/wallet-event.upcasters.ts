import type { LedgerEntryData, WalletEventType } from './wallet.events.js';

/**
 * Event schema evolution. Every stored event carries the schema version it was written
 * with; `decodeWalletEvent` runs the upcasters below, one version step at a time, so that
 * everything reading the store (command handling, projections, replay, audit) only ever
 * sees the current shape. Events are never rewritten in the store.
 *
 * To change an event's shape: bump its entry in `WALLET_EVENT_SCHEMA_VERSIONS`, describe
 * the old shape here as a `…V<n>` type, and add an upcaster from version n to n + 1.
 */
export const WALLET_EVENT_SCHEMA_VERSIONS: Readonly<Record<WalletEventType, number>> = Object.freeze({
  CustomerCreated: 1,
  CustomerUpdated: 1,
  WalletOpened: 1,
  WalletCredited: 2,
  WalletDebited: 2,
});

/**
 * WalletCredited / WalletDebited as the first release stored them (schema version 1).
 * Version 2 (today's `LedgerEntryData`) renamed three fields and added `reason`:
 *
 * | v1                      | v2                               |
 * |-------------------------|----------------------------------|
 * | `merchantId`            | `businessId` (same value)        |
 * | `amount`                | `amountMinor` (both minor units) |
 * | `balanceAfter`          | `balanceAfterMinor`              |
 * | `idempotencyKey` absent | `idempotencyKey: null`           |
 * | (no reason)             | `reason: null`                   |
 *
 * The tenant was always on the event, only under its old name, so the upcast is a pure
 * function of the event: no lookup of the stream's CustomerCreated is needed, and a
 * projection that starts mid-log can upcast any event on its own.
 */
export interface LedgerEntryDataV1 {
  readonly customerId: string;
  readonly merchantId: string;
  readonly entryId: string;
  readonly currency: string;
  readonly amount: number;
  readonly balanceAfter: number;
  readonly idempotencyKey?: string;
  readonly occurredAt: string;
}

/** A stored event whose data does not have the shape its schema version promises. */
export class EventUpcastError extends Error {
  constructor(type: string, schemaVersion: number, problem: string) {
    super(`Cannot upcast ${type} v${schemaVersion}: ${problem}`);
    this.name = 'EventUpcastError';
  }
}

type Upcaster = (data: unknown, type: string) => unknown;

/** `UPCASTERS[type][n]` turns version n of `type` into version n + 1. */
const UPCASTERS: Readonly<Partial<Record<WalletEventType, Readonly<Record<number, Upcaster>>>>> = {
  WalletCredited: { 1: ledgerEntryV1ToV2 },
  WalletDebited: { 1: ledgerEntryV1ToV2 },
};

/** The data of `type` brought from `schemaVersion` to the current version; throws when no path exists. */
export function upcastWalletEventData(type: WalletEventType, schemaVersion: number, data: unknown): unknown {
  const current = WALLET_EVENT_SCHEMA_VERSIONS[type];
  let upcast = data;
  for (let version = schemaVersion; version < current; version += 1) {
    const step = UPCASTERS[type]?.[version];
    if (step === undefined) throw new EventUpcastError(type, schemaVersion, `no upcaster from v${version}`);
    upcast = step(upcast, type);
  }
  return upcast;
}

function ledgerEntryV1ToV2(data: unknown, type: string): LedgerEntryData {
  const v1 = asRecord(data, type);
  // Builds made before version 2 existed wrote today's shape labelled v1. Recognise it by
  // its v2-only fields and keep it as it is, so their stores stay readable.
  if (typeof v1.amountMinor === 'number' && typeof v1.businessId === 'string') return v1 as unknown as LedgerEntryData;
  const field = <T>(name: string, kind: 'string' | 'number'): T => {
    const value = v1[name];
    if (typeof value !== kind) throw new EventUpcastError(type, 1, `field ${name} should be a ${kind}`);
    return value as T;
  };
  const idempotencyKey = v1.idempotencyKey;
  if (idempotencyKey !== undefined && idempotencyKey !== null && typeof idempotencyKey !== 'string') {
    throw new EventUpcastError(type, 1, 'field idempotencyKey should be a string when present');
  }
  return {
    customerId: field('customerId', 'string'),
    businessId: field('merchantId', 'string'),
    entryId: field('entryId', 'string'),
    currency: field('currency', 'string'),
    amountMinor: field('amount', 'number'),
    balanceAfterMinor: field('balanceAfter', 'number'),
    reason: null,
    idempotencyKey: idempotencyKey ?? null,
    occurredAt: field('occurredAt', 'string'),
  };
}

function asRecord(data: unknown, type: string): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new EventUpcastError(type, 1, 'data is not an object');
  return data as Record<string, unknown>;
}
