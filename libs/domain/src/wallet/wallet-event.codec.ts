import { assertNever } from '../domain-error.js';
import { WALLET_EVENT_SCHEMA_VERSIONS, upcastWalletEventData } from './wallet-event.upcasters.js';
import { isWalletEventType, type WalletEvent } from './wallet.events.js';

export { EventUpcastError, WALLET_EVENT_SCHEMA_VERSIONS, type LedgerEntryDataV1 } from './wallet-event.upcasters.js';

export interface StoredEventShape {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
}

export class UnknownEventError extends Error {
  constructor(type: string, schemaVersion: number) {
    super(`Cannot decode event ${type} v${schemaVersion}`);
    this.name = 'UnknownEventError';
  }
}

/**
 * Turns a stored event into the current domain shape. Older schema versions are upcast
 * (see `wallet-event.upcasters.ts`); an unknown type, or a version newer than this build
 * knows (written by a later release), is refused rather than guessed at.
 */
export function decodeWalletEvent(stored: StoredEventShape): WalletEvent {
  const { type, schemaVersion } = stored;
  if (!isWalletEventType(type) || !Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
    throw new UnknownEventError(type, schemaVersion);
  }
  const current = WALLET_EVENT_SCHEMA_VERSIONS[type];
  if (schemaVersion === current) return { type, data: stored.data } as WalletEvent;
  if (schemaVersion > current) throw new UnknownEventError(type, schemaVersion);
  return { type, data: upcastWalletEventData(type, schemaVersion, stored.data) } as WalletEvent;
}

/** Event type and payload as they go into the store, always at the current schema version. */
export function encodeWalletEvent(event: WalletEvent): StoredEventShape {
  switch (event.type) {
    case 'CustomerCreated':
    case 'CustomerUpdated':
    case 'WalletOpened':
    case 'WalletCredited':
    case 'WalletDebited':
      return { type: event.type, schemaVersion: WALLET_EVENT_SCHEMA_VERSIONS[event.type], data: event.data };
    default:
      return assertNever(event, 'event');
  }
}
