import { createHash } from 'node:crypto';
import {
  ANY,
  ErrorType,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  type AppendStreamState,
  type JSONType,
  type Position,
  type ReadPosition,
  type RecordedEvent as EsdbRecordedEvent,
} from '@kurrent/kurrentdb-client';
import { StoreRefusedError, type EventMetadata, type ExpectedRevision, type NewEvent, type RecordedEvent } from '../event-store.port.js';

/*
 * Pure mappings between the port's types and the KurrentDB (EventStoreDB) client's. Why positions are
 * commit positions, and why that is sound: docs/positions.md.
 */

/** Fixed namespace for ids derived from non-UUID event ids. Changing it changes every derived id. */
export const EVENT_ID_NAMESPACE = '1ae5c9b3-a6fd-49b2-9894-9a3137e6cd8b';

const SCHEMA_VERSION_KEY = 'schemaVersion';
const ORIGINAL_EVENT_ID_KEY = 'originalEventId';
/**
 * ESDB's own metadata keys for correlation and causation: its `$by_correlation_id`
 * projection and UI read these. Our `correlationId`/`causationId` travel under them.
 */
const ESDB_METADATA_KEYS = { correlationId: '$correlationId', causationId: '$causationId' } as const;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What servers before 22.6 put in the position of events read from a stream (ulong -1). */
const NO_POSITION = 2n ** 64n - 1n;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/**
 * The id sent to ESDB for one of our event ids: a UUID passes through (lower-cased, which is
 * how ESDB returns ids); anything else becomes a name-based UUID (RFC 4122 version 5 layout:
 * SHA-1 of namespace bytes + UTF-8 name, version and variant bits set). Deterministic, so a
 * retried command sends the same ids and ESDB deduplicates it.
 */
export function toEsdbEventId(eventId: string): string {
  if (isUuid(eventId)) return eventId.toLowerCase();
  const namespace = Buffer.from(EVENT_ID_NAMESPACE.replaceAll('-', ''), 'hex');
  const digest = createHash('sha1').update(namespace).update(eventId, 'utf8').digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendStreamState {
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new RangeError(`expected revision must be 'no_stream', 'any' or a non-negative integer, got ${String(expected)}`);
  }
  return BigInt(expected);
}

/** Our `position` for an ESDB `$all` position (see docs/positions.md for why commit). */
export function toGlobalPosition(position: Position | undefined, context: string): number {
  if (position === undefined || position.commit === NO_POSITION || position.commit < 0n) {
    throw new Error(`${context}: EventStoreDB returned no $all position (stream reads carry one from server 22.6 on)`);
  }
  if (position.commit !== position.prepare) {
    throw new Error(
      `${context}: commit position ${position.commit} != prepare position ${position.prepare}; ` +
        'events from explicit (legacy TCP) transactions share a commit position and cannot map to a strictly increasing position',
    );
  }
  if (position.commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`${context}: commit position ${position.commit} exceeds Number.MAX_SAFE_INTEGER; it cannot be a safe integer position`);
  }
  return Number(position.commit);
}

/** Where to start reading `$all` to see events strictly after `after` (the read itself may include `after`). */
export function toReadPosition(after: number | null): ReadPosition {
  if (after === null) return START;
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be null or a non-negative safe integer, got ${after}`);
  return { commit: BigInt(after), prepare: BigInt(after) };
}

export function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`${what} ${value} is not a safe integer`);
  }
  return Number(value);
}

/** The client reports the current revision as a bigint, or `'no_stream'` (some paths: -1). */
export function toActualRevision(actual: WrongExpectedVersionError['actualState']): number | 'no_stream' {
  if (typeof actual !== 'bigint' || actual < 0n) return 'no_stream';
  return toSafeNumber(actual, 'actual revision');
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

function isSystem(event: EsdbRecordedEvent): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

function hasErrorType(error: unknown, type: ErrorType): boolean {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === type;
}

export function isWrongExpectedVersion(error: unknown): error is WrongExpectedVersionError {
  return error instanceof WrongExpectedVersionError || hasErrorType(error, ErrorType.WRONG_EXPECTED_VERSION);
}

/** The client's refusals that resending the same append cannot change, by our reason. */
const PERMANENT_REFUSALS: ReadonlyArray<[ErrorType, StoreRefusedError['reason']]> = [
  [ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED, 'too_large'],
  [ErrorType.APPEND_RECORD_SIZE_EXCEEDED, 'too_large'],
  [ErrorType.STREAM_DELETED, 'stream_deleted'],
  [ErrorType.STREAM_TOMBSTONED, 'stream_deleted'],
  [ErrorType.ACCESS_DENIED, 'access_denied'],
];

/** A client error as our `StoreRefusedError` when it is a permanent refusal, else null. */
export function toStoreRefusal(streamId: string, error: unknown): StoreRefusedError | null {
  const match = PERMANENT_REFUSALS.find(([type]) => hasErrorType(error, type));
  return match === undefined ? null : new StoreRefusedError(streamId, match[1], { cause: error });
}

export function isStreamNotFound(error: unknown): boolean {
  return error instanceof StreamNotFoundError || hasErrorType(error, ErrorType.STREAM_NOT_FOUND);
}

/** gRPC status codes of a request the server will refuse again, however often it is resent. */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_OUT_OF_RANGE = 11;

/**
 * Refusals that no retry or resubscription can cure: an invalid position (a checkpoint
 * from another log, or beyond its end), access denied, a deleted stream, an append over
 * the size limit, an invalid argument. Resubscribing on these only hides them.
 */
export function isPermanentRefusal(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const type = (error as { type?: unknown }).type;
  if (
    type === ErrorType.ACCESS_DENIED ||
    type === ErrorType.STREAM_DELETED ||
    type === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED ||
    type === ErrorType.INVALID_ARGUMENT
  ) {
    return true;
  }
  const code = (error as { code?: unknown }).code;
  if (code === GRPC_INVALID_ARGUMENT || code === GRPC_PERMISSION_DENIED || code === GRPC_OUT_OF_RANGE) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && /invalid ?position/i.test(message);
}

/**
 * Our recorded event for an ESDB one, or `null` for what the port does not carry: system
 * events (type or stream starting with `$`), binary events, link-only entries.
 */
export function fromEsdbEvent(resolved: { readonly event?: EsdbRecordedEvent }): RecordedEvent | null {
  const event = resolved.event;
  if (event === undefined || isSystem(event) || !event.isJson) return null;
  const context = `event ${event.id} in ${event.streamId}@${event.revision}`;
  const stored =
    typeof event.metadata === 'object' && event.metadata !== null && !Array.isArray(event.metadata) && !(event.metadata instanceof Uint8Array)
      ? (event.metadata as Record<string, unknown>)
      : {};
  const {
    [SCHEMA_VERSION_KEY]: schemaVersion,
    [ORIGINAL_EVENT_ID_KEY]: originalEventId,
    [ESDB_METADATA_KEYS.correlationId]: correlationId,
    [ESDB_METADATA_KEYS.causationId]: causationId,
    ...rest
  } = stored;
  const metadata: Record<string, unknown> = { ...rest };
  // Events written before the `$`-keys were used carry the plain keys, which `rest` kept.
  if (correlationId !== undefined) metadata.correlationId = correlationId;
  if (causationId !== undefined) metadata.causationId = causationId;
  return {
    streamId: event.streamId,
    revision: toSafeNumber(event.revision, `${context}: revision`),
    position: toGlobalPosition(event.position, context),
    eventId: typeof originalEventId === 'string' ? originalEventId : event.id,
    type: event.type,
    schemaVersion: typeof schemaVersion === 'number' && Number.isSafeInteger(schemaVersion) && schemaVersion > 0 ? schemaVersion : 1,
    data: event.data,
    metadata: metadata as EventMetadata,
    recordedAt: event.created.toISOString(),
  };
}

export function toEsdbEvent(event: NewEvent) {
  const id = toEsdbEventId(event.eventId);
  const { correlationId, causationId, ...rest } = event.metadata;
  const metadata: Record<string, unknown> = { ...rest, [SCHEMA_VERSION_KEY]: event.schemaVersion };
  if (correlationId !== undefined) metadata[ESDB_METADATA_KEYS.correlationId] = correlationId;
  if (causationId !== undefined) metadata[ESDB_METADATA_KEYS.causationId] = causationId;
  if (id !== event.eventId) metadata[ORIGINAL_EVENT_ID_KEY] = event.eventId;
  return jsonEvent({ id, type: event.type, data: event.data as JSONType, metadata });
}
