import { assertNever } from '../domain-error.js';
import { isWalletEventType, type WalletEvent } from './wallet.events.js';

/** Current schema version of every wallet event type; bump it with an upcaster. */
export const WALLET_EVENT_SCHEMA_VERSION = 1;

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

/** Turns a stored event into the current domain shape; older schema versions are upcast here. */
export function decodeWalletEvent(stored: StoredEventShape): WalletEvent {
  if (!isWalletEventType(stored.type) || stored.schemaVersion !== WALLET_EVENT_SCHEMA_VERSION) {
    throw new UnknownEventError(stored.type, stored.schemaVersion);
  }
  return { type: stored.type, data: stored.data } as WalletEvent;
}

/** Event type and payload as they go into the store. */
export function encodeWalletEvent(event: WalletEvent): StoredEventShape {
  switch (event.type) {
    case 'CustomerCreated':
    case 'CustomerUpdated':
    case 'WalletOpened':
    case 'WalletCredited':
    case 'WalletDebited':
      return { type: event.type, schemaVersion: WALLET_EVENT_SCHEMA_VERSION, data: event.data };
    default:
      return assertNever(event, 'event');
  }
}
