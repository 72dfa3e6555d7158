import { Readable } from 'node:stream';
import {
  ANY,
  AccessDeniedError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  StreamDeletedError,
  NO_STREAM,
  START,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendResult as EsdbAppendResult,
  type AppendToStreamOptions,
  type JSONEventData,
  type Position,
  type ReadAllOptions as EsdbReadAllOptions,
  type ReadStreamOptions as EsdbReadStreamOptions,
  type SubscribeToAllOptions,
} from '@kurrent/kurrentdb-client';
import { StoreRefusedError, WrongExpectedRevisionError, type NewEvent, type RecordedEvent } from '../event-store.port.js';
import {
  EVENT_ID_NAMESPACE,
  EventStoreDbEventStore,
  toEsdbEventId,
  toGlobalPosition,
  toKurrentDbScheme,
  toReadPosition,
  type EsdbClient,
} from './eventstoredb-event-store.js';

/*
 * No server here: the adapter gets a hand-written stub with only the client methods it
 * calls. Results, events and errors are @kurrent/kurrentdb-client's own types and classes:
 * its error classes (WrongExpectedVersionError, StreamNotFoundError, UnavailableError) take
 * `(undefined, details)` exactly as the library itself builds them from a server reply,
 * so `instanceof` holds without any faking. Reads are async generators, as the client's
 * `readStream`/`readAll` (native bridge) return; subscriptions are real Node `Readable`s in
 * object mode, as the client's `Subscription` is.
 */

/** A Readable the test feeds by hand; stands in for the client's Subscription. */
class StubStream<T> extends Readable {
  unsubscribed = false;
  constructor(items: readonly T[] = [], end = false) {
    super({ objectMode: true, read() {} });
    for (const item of items) this.push(item);
    if (end) this.push(null);
  }
  async cancel(): Promise<void> {
    this.destroy();
  }
  async unsubscribe(): Promise<void> {
    this.unsubscribed = true;
    this.destroy();
  }
}

function failing<T>(error: Error): StubStream<T> {
  const stream = new StubStream<T>();
  setImmediate(() => stream.destroy(error));
  return stream;
}

/** A read page as the client returns it: an async generator over the events, or one that throws. */
async function* page<T>(items: readonly T[], error?: Error): AsyncGenerator<T> {
  yield* items;
  if (error !== undefined) throw error;
}

const pos = (n: bigint | number): Position => ({ commit: BigInt(n), prepare: BigInt(n) });

function esdbEvent(fields: {
  streamId: string;
  revision: number;
  position: Position | number;
  type?: string;
  data?: unknown;
  metadata?: unknown;
  isJson?: boolean;
  id?: string;
}): AllStreamResolvedEvent {
  const position = typeof fields.position === 'number' ? pos(fields.position) : fields.position;
  const event = {
    streamId: fields.streamId,
    id: fields.id ?? '6f2a3a4c-1111-4a4a-8b8b-000000000000',
    isJson: fields.isJson ?? true,
    revision: BigInt(fields.revision),
    type: fields.type ?? 'Deposited',
    created: new Date('2024-05-01T10:00:00.000Z'),
    data: fields.data ?? {},
    metadata: fields.metadata ?? { schemaVersion: 1 },
    position,
  };
  return { event, commitPosition: position.commit } as AllStreamResolvedEvent;
}

interface Calls {
  appends: Array<{ streamName: string; events: JSONEventData[]; options: AppendToStreamOptions | undefined }>;
  readStreams: Array<{ streamName: string; options: EsdbReadStreamOptions | undefined }>;
  readAlls: Array<EsdbReadAllOptions | undefined>;
  subscribes: Array<SubscribeToAllOptions | undefined>;
  disposed: number;
}

function stubClient(handlers: {
  append?: (streamName: string, events: JSONEventData[], options?: AppendToStreamOptions) => Promise<EsdbAppendResult>;
  readStream?: (streamName: string, options?: EsdbReadStreamOptions) => AsyncIterable<unknown>;
  readAll?: (options?: EsdbReadAllOptions) => AsyncIterable<unknown>;
  subscribeToAll?: (options?: SubscribeToAllOptions) => Readable;
}): { client: EsdbClient; calls: Calls } {
  const calls: Calls = { appends: [], readStreams: [], readAlls: [], subscribes: [], disposed: 0 };
  const unexpected = () => {
    throw new Error('not expected in this test');
  };
  const client = {
    appendToStream: async (streamName: string, events: JSONEventData | JSONEventData[], options?: AppendToStreamOptions) => {
      const list = Array.isArray(events) ? events : [events];
      calls.appends.push({ streamName, events: list, options });
      return (handlers.append ?? unexpected)(streamName, list, options);
    },
    readStream: (streamName: string, options?: EsdbReadStreamOptions) => {
      calls.readStreams.push({ streamName, options });
      return (handlers.readStream ?? unexpected)(streamName, options);
    },
    readAll: (options?: EsdbReadAllOptions) => {
      calls.readAlls.push(options);
      return (handlers.readAll ?? unexpected)(options);
    },
    subscribeToAll: (options?: SubscribeToAllOptions) => {
      calls.subscribes.push(options);
      return (handlers.subscribeToAll ?? unexpected)(options);
    },
    dispose: async () => {
      calls.disposed += 1;
    },
  };
  return { client: client as unknown as EsdbClient, calls };
}

const ok = (revision: number, commit: number): EsdbAppendResult => ({
  success: true,
  nextExpectedRevision: BigInt(revision),
  position: { commit: BigInt(commit), prepare: BigInt(commit) },
});

function newEvent(eventId: string, overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId,
    type: 'Deposited',
    schemaVersion: 1,
    data: { amount: 100 },
    metadata: { correlationId: 'c-1', actor: 'key:abc' },
    ...overrides,
  };
}

/** What the server would hand back for an event the adapter sent. */
function recorded(sent: JSONEventData, streamId: string, revision: number, position: number): AllStreamResolvedEvent {
  return esdbEvent({ streamId, revision, position, id: sent.id, type: sent.type, data: sent.data, metadata: sent.metadata });
}

async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('EventStoreDbEventStore (stub client, no server)', () => {
  describe('append', () => {
    it.each([
      ['no_stream', NO_STREAM],
      ['any', ANY],
      [0, 0n],
      [41, 41n],
    ] as const)('maps expected revision %p to the client value %p', async (expected, clientValue) => {
      const { client, calls } = stubClient({ append: async () => ok(42, 9000) });
      const store = new EventStoreDbEventStore(client);
      const result = await store.append('wallet-c1', expected, [newEvent('e-1')]);
      expect(calls.appends[0].options).toEqual({ streamState: clientValue });
      expect(calls.appends[0].streamName).toBe('wallet-c1');
      expect(result).toEqual({ lastRevision: 42, lastPosition: 9000 });
    });

    it('rejects an invalid numeric expected revision and an empty or oversized batch without calling the server', async () => {
      const { client, calls } = stubClient({});
      const store = new EventStoreDbEventStore(client);
      await expect(store.append('s', -1, [newEvent('e')])).rejects.toBeInstanceOf(RangeError);
      await expect(store.append('s', 1.5, [newEvent('e')])).rejects.toBeInstanceOf(RangeError);
      await expect(store.append('s', 'any', [])).rejects.toBeInstanceOf(RangeError);
      await expect(store.append('s', 'any', Array.from({ length: 101 }, (_, i) => newEvent(`e${i}`)))).rejects.toBeInstanceOf(RangeError);
      expect(calls.appends).toHaveLength(0);
    });

    it('maps the client WrongExpectedVersionError to WrongExpectedRevisionError (bigint actual)', async () => {
      const { client } = stubClient({
        append: async (streamName) => {
          throw new WrongExpectedVersionError(undefined, { streamName, expected: 0n, current: 3n });
        },
      });
      const store = new EventStoreDbEventStore(client);
      const error = await store.append('wallet-c1', 0, [newEvent('e-1')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedRevisionError);
      expect(error).toMatchObject({ streamId: 'wallet-c1', expected: 0, actual: 3 });
    });

    it("maps a missing stream ('no_stream' actual) and keeps our expected value", async () => {
      const { client } = stubClient({
        append: async (streamName) => {
          throw new WrongExpectedVersionError(undefined, { streamName, expected: 5n, current: NO_STREAM });
        },
      });
      const store = new EventStoreDbEventStore(client);
      const error = await store.append('wallet-c2', 5, [newEvent('e-1')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedRevisionError);
      expect(error).toMatchObject({ streamId: 'wallet-c2', expected: 5, actual: 'no_stream' });
    });

    it.each([
      ['too large', () => new MaxAppendSizeExceededError(undefined, 1024), 'too_large'],
      ['a deleted stream', () => new StreamDeletedError(undefined, 'wallet-c3'), 'stream_deleted'],
      ['denied access', () => new AccessDeniedError(undefined, 'access denied'), 'access_denied'],
    ] as const)('maps a refusal for %s to StoreRefusedError, which callers do not retry', async (_name, refusal, reason) => {
      const { client } = stubClient({
        append: async () => {
          throw refusal();
        },
      });
      const store = new EventStoreDbEventStore(client);
      const error = await store.append('wallet-c3', 0, [newEvent('e-1')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreRefusedError);
      expect(error).toMatchObject({ streamId: 'wallet-c3', reason });
    });

    it('passes other client errors through unchanged', async () => {
      const unavailable = new UnavailableError(undefined, 'server down');
      const { client } = stubClient({
        append: async () => {
          throw unavailable;
        },
      });
      const store = new EventStoreDbEventStore(client);
      await expect(store.append('s', 'any', [newEvent('e')])).rejects.toBe(unavailable);
    });

    it('runs appends to one stream in call order, each after the previous settled', async () => {
      const order: string[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const { client } = stubClient({
        append: async (_stream, events, options) => {
          order.push(`start ${String(options?.streamState)}`);
          if (options?.streamState === NO_STREAM) await gate;
          order.push(`end ${String(options?.streamState)}`);
          return ok(events.length - 1 + (options?.streamState === NO_STREAM ? 0 : 1), 100);
        },
      });
      const store = new EventStoreDbEventStore(client);
      const first = store.append('s', 'no_stream', [newEvent('a')]);
      const second = store.append('s', 0, [newEvent('b')]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(order).toEqual(['start no_stream']);
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['start no_stream', 'end no_stream', 'start 0', 'end 0']);
    });

    it('refuses an append result whose commit position is not a safe integer', async () => {
      const { client } = stubClient({ append: async () => ok(0, 2 ** 53) });
      const store = new EventStoreDbEventStore(client);
      await expect(store.append('s', 'any', [newEvent('e')])).rejects.toThrow(/MAX_SAFE_INTEGER/);
    });
  });

  describe('event ids', () => {
    const uuidV5Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

    it('derives the same valid name-based UUID for the same id, different ones for different ids', () => {
      const a = toEsdbEventId('wallet-c1:cmd-7:0');
      expect(a).toMatch(uuidV5Pattern);
      expect(toEsdbEventId('wallet-c1:cmd-7:0')).toBe(a);
      expect(toEsdbEventId('wallet-c1:cmd-7:1')).not.toBe(a);
    });

    it('matches RFC 4122 version 5 as computed independently (Python uuid.uuid5 over EVENT_ID_NAMESPACE)', () => {
      // The uuid package the 6.2.1 client brought in is gone with it (1.3.1 uses crypto.randomUUID); these
      // vectors pin the ids already stored in EventStoreDB, so a change here would break retry deduplication.
      expect(EVENT_ID_NAMESPACE).toBe('1ae5c9b3-a6fd-49b2-9894-9a3137e6cd8b');
      expect(toEsdbEventId('wallet-c1:cmd-7:0')).toBe('4bbe1927-8bc2-5d51-873d-796fa53981bf');
      expect(toEsdbEventId('x')).toBe('89382ced-edfa-55f3-a597-05a867d463c8');
      expect(toEsdbEventId('ünïcødé id')).toBe('cf5ac91d-fa2d-5264-8034-307f4ef5b36d');
    });

    it('passes UUIDs through (lower-cased, as ESDB returns them)', () => {
      const id = '3f1c1c5e-8c1d-4b7a-9d5e-2a9f1e0b7c44';
      expect(toEsdbEventId(id)).toBe(id);
      expect(toEsdbEventId(id.toUpperCase())).toBe(id);
    });

    it('sends derived ids on append, the same ones on a retry, and reads the original id back', async () => {
      const { client, calls } = stubClient({ append: async () => ok(0, 500) });
      const store = new EventStoreDbEventStore(client);
      await store.append('wallet-c1', 'no_stream', [newEvent('cmd-7:0')]);
      await store.append('wallet-c1', 'no_stream', [newEvent('cmd-7:0')]);
      const [first, retry] = calls.appends.map((call) => call.events[0]);
      expect(first.id).toBe(toEsdbEventId('cmd-7:0'));
      expect(retry.id).toBe(first.id);
      expect(first.metadata).toMatchObject({ originalEventId: 'cmd-7:0' });

      const reader = stubClient({ readStream: () => page([recorded(first, 'wallet-c1', 0, 500)]) });
      const [event] = await new EventStoreDbEventStore(reader.client).readStream('wallet-c1', { fromRevision: 0, maxCount: 10 });
      expect(event.eventId).toBe('cmd-7:0');
    });
  });

  describe('schema version and metadata', () => {
    it('stores schemaVersion in JSON metadata and round-trips data, metadata and schemaVersion', async () => {
      const { client, calls } = stubClient({ append: async () => ok(0, 700) });
      const store = new EventStoreDbEventStore(client);
      const id = '3f1c1c5e-8c1d-4b7a-9d5e-2a9f1e0b7c44';
      await store.append('wallet-c1', 'no_stream', [newEvent(id, { schemaVersion: 3, data: { amount: 5, currency: 'USD' } })]);
      const sent = calls.appends[0].events[0];
      expect(sent).toMatchObject({ id, contentType: 'application/json', type: 'Deposited', data: { amount: 5, currency: 'USD' } });
      // Correlation travels under ESDB's own key, which its $by_correlation_id projection reads.
      expect(sent.metadata).toEqual({ $correlationId: 'c-1', actor: 'key:abc', schemaVersion: 3 });

      const reader = stubClient({ readStream: () => page([recorded(sent, 'wallet-c1', 0, 700)]) });
      const events = await new EventStoreDbEventStore(reader.client).readStream('wallet-c1', { fromRevision: 0, maxCount: 10 });
      expect(events).toEqual<RecordedEvent[]>([
        {
          streamId: 'wallet-c1',
          revision: 0,
          position: 700,
          eventId: id,
          type: 'Deposited',
          schemaVersion: 3,
          data: { amount: 5, currency: 'USD' },
          metadata: { correlationId: 'c-1', actor: 'key:abc' },
          recordedAt: '2024-05-01T10:00:00.000Z',
        },
      ]);
    });

    it('defaults schemaVersion to 1 when metadata is missing or not JSON', async () => {
      const { client } = stubClient({
        readStream: () =>
          page([
            esdbEvent({ streamId: 's', revision: 0, position: 10, metadata: undefined }),
            esdbEvent({ streamId: 's', revision: 1, position: 20, metadata: new Uint8Array([1, 2]) }),
            esdbEvent({ streamId: 's', revision: 2, position: 30, metadata: { schemaVersion: 'two', actor: 'k' } }),
          ]),
      });
      const events = await new EventStoreDbEventStore(client).readStream('s', { fromRevision: 0, maxCount: 10 });
      expect(events.map((e) => [e.schemaVersion, e.metadata])).toEqual([
        [1, {}],
        [1, {}],
        [1, { actor: 'k' }],
      ]);
    });
  });

  describe('readStream', () => {
    it('reads a missing stream (StreamNotFoundError) as []', async () => {
      const { client } = stubClient({ readStream: (name) => page([], new StreamNotFoundError(undefined, name)) });
      expect(await new EventStoreDbEventStore(client).readStream('wallet-none', { fromRevision: 0, maxCount: 10 })).toEqual([]);
    });

    it('propagates other read errors', async () => {
      const { client } = stubClient({ readStream: () => page([], new UnavailableError(undefined, 'down')) });
      await expect(new EventStoreDbEventStore(client).readStream('s', { fromRevision: 0, maxCount: 10 })).rejects.toBeInstanceOf(
        UnavailableError,
      );
    });

    it('passes fromRevision/maxCount as bigints and skips binary and system events, paging past them', async () => {
      const pages = [
        [
          esdbEvent({ streamId: 's', revision: 2, position: 20, isJson: false, data: new Uint8Array([1]) }),
          esdbEvent({ streamId: 's', revision: 3, position: 30, type: '$metadata' }),
        ],
        [esdbEvent({ streamId: 's', revision: 4, position: 40, type: 'A' })],
      ];
      const { client, calls } = stubClient({ readStream: () => page(pages.shift() ?? []) });
      const events = await new EventStoreDbEventStore(client).readStream('s', { fromRevision: 2, maxCount: 2 });
      expect(events.map((e) => [e.type, e.revision])).toEqual([['A', 4]]);
      expect(calls.readStreams.map((c) => c.options)).toEqual([
        { fromRevision: 2n, maxCount: 2n, requiresLeader: true, deadline: 10_000 },
        { fromRevision: 4n, maxCount: 2n, requiresLeader: true, deadline: 10_000 },
      ]);
    });
  });

  describe('positions', () => {
    it('uses the commit position as a number', () => {
      expect(toGlobalPosition(pos(12_345), 'ctx')).toBe(12_345);
      expect(toGlobalPosition(pos(Number.MAX_SAFE_INTEGER), 'ctx')).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('refuses a position above Number.MAX_SAFE_INTEGER with a clear message', () => {
      expect(() => toGlobalPosition(pos(2n ** 53n), 'event x')).toThrow(/event x: commit position 9007199254740992 exceeds Number.MAX_SAFE_INTEGER/);
    });

    it('refuses commit != prepare (explicit transaction) and the "no position" sentinel', () => {
      expect(() => toGlobalPosition({ commit: 500n, prepare: 300n }, 'ctx')).toThrow(/commit position 500 != prepare position 300/);
      expect(() => toGlobalPosition({ commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n }, 'ctx')).toThrow(/no \$all position/);
      expect(() => toGlobalPosition(undefined, 'ctx')).toThrow(/no \$all position/);
    });

    it('resumes after a position from that exact TFPos, or from START', () => {
      expect(toReadPosition(null)).toBe(START);
      expect(toReadPosition(777)).toEqual({ commit: 777n, prepare: 777n });
    });
  });

  describe('readAll', () => {
    it('reads from START, skipping system events and streams', async () => {
      const { client, calls } = stubClient({
        readAll: () =>
          page([
            esdbEvent({ streamId: '$settings', revision: 0, position: 5, type: 'settings' }),
            esdbEvent({ streamId: 'wallet-a', revision: 0, position: 10, type: 'A' }),
            esdbEvent({ streamId: '$ce-wallet', revision: 0, position: 15, type: '$>' }),
            esdbEvent({ streamId: 'wallet-a', revision: 1, position: 20, type: '$metadata' }),
            esdbEvent({ streamId: 'wallet-b', revision: 0, position: 30, type: 'B' }),
          ]),
      });
      const events = await new EventStoreDbEventStore(client).readAll({ after: null, maxCount: 10 });
      expect(events.map((e) => [e.type, e.position])).toEqual([
        ['A', 10],
        ['B', 30],
      ]);
      expect(calls.readAlls[0]).toEqual({ fromPosition: START, maxCount: 11n, deadline: 10_000 });
    });

    it('returns only events strictly after `after` (the server read includes it)', async () => {
      const { client, calls } = stubClient({
        readAll: () =>
          page([esdbEvent({ streamId: 'w', revision: 0, position: 100, type: 'Old' }), esdbEvent({ streamId: 'w', revision: 1, position: 150, type: 'New' })]),
      });
      const events = await new EventStoreDbEventStore(client).readAll({ after: 100, maxCount: 1 });
      expect(events.map((e) => e.type)).toEqual(['New']);
      expect(calls.readAlls[0]).toEqual({ fromPosition: { commit: 100n, prepare: 100n }, maxCount: 2n, deadline: 10_000 });
    });

    it('reads another page when a full page held only skipped events, so [] really means the end', async () => {
      const pages = [
        [
          esdbEvent({ streamId: 'w', revision: 0, position: 100 }),
          esdbEvent({ streamId: '$stats-1', revision: 0, position: 110, type: '$statsCollected' }),
          esdbEvent({ streamId: '$stats-1', revision: 1, position: 120, type: '$statsCollected' }),
        ],
        [
          esdbEvent({ streamId: '$stats-1', revision: 1, position: 120, type: '$statsCollected' }),
          esdbEvent({ streamId: 'w', revision: 1, position: 130, type: 'Next' }),
        ],
      ];
      const { client, calls } = stubClient({ readAll: () => page(pages.shift() ?? []) });
      const events = await new EventStoreDbEventStore(client, { readPageSize: 2 }).readAll({ after: 100, maxCount: 5 });
      expect(events.map((e) => [e.type, e.position])).toEqual([['Next', 130]]);
      expect(calls.readAlls.map((c) => c?.fromPosition)).toEqual([pos(100), pos(120)]);
    });

    it('pages through $all without repeating the event a page starts from', async () => {
      const at = (n: number) => esdbEvent({ streamId: 'w', revision: n, position: n, type: `E${n}` });
      const pages = [[at(100), at(110), at(120)], [at(120), at(130), at(140)], [at(140)]];
      const { client, calls } = stubClient({ readAll: () => page(pages.shift() ?? []) });
      const events = await new EventStoreDbEventStore(client, { readPageSize: 2 }).readAll({ after: 100, maxCount: 5 });
      expect(events.map((e) => e.position)).toEqual([110, 120, 130, 140]);
      expect(calls.readAlls.map((c) => [c?.fromPosition, c?.maxCount])).toEqual([
        [pos(100), 3n],
        [pos(120), 3n],
        [pos(140), 2n],
      ]);
    });

    it('surfaces the unsafe-position guard instead of returning a wrong position', async () => {
      const { client } = stubClient({
        readAll: () => page([esdbEvent({ streamId: 'w', revision: 0, position: pos(2n ** 60n) })]),
      });
      await expect(new EventStoreDbEventStore(client).readAll({ after: null, maxCount: 10 })).rejects.toThrow(/MAX_SAFE_INTEGER/);
    });
  });

  describe('subscribe', () => {
    const fast = { resubscribeBaseDelayMs: 1, resubscribeMaxDelayMs: 4, random: () => 0.5 };

    it('filters by stream prefix, delivers batches of at most batchSizeMax one at a time, and closes', async () => {
      const stream = new StubStream<AllStreamResolvedEvent>();
      const { client, calls } = stubClient({ subscribeToAll: () => stream });
      const store = new EventStoreDbEventStore(client, fast);
      const batches: string[][] = [];
      let inHandler = 0;
      let maxConcurrent = 0;
      const sub = store.subscribe(
        { after: 50, batchSizeMax: 2, streamPrefix: 'wallet-' },
        async (events) => {
          inHandler += 1;
          maxConcurrent = Math.max(maxConcurrent, inHandler);
          await new Promise((resolve) => setTimeout(resolve, 5));
          batches.push(events.map((e) => e.type));
          inHandler -= 1;
        },
        (error) => {
          throw error;
        },
      );
      for (const [i, type] of ['A', 'B', 'C', 'D', 'E'].entries()) {
        stream.push(esdbEvent({ streamId: 'wallet-1', revision: i, position: 100 + i, type }));
      }
      stream.push(esdbEvent({ streamId: '$ce-wallet', revision: 0, position: 200, type: '$>' }));
      stream.push({ commitPosition: 210n } as AllStreamResolvedEvent); // no event: nothing to deliver
      await waitUntil(() => batches.flat().length === 5);
      await sub.close();

      expect(batches).toEqual([['A', 'B'], ['C', 'D'], ['E']]);
      expect(maxConcurrent).toBe(1);
      expect(stream.unsubscribed).toBe(true);
      const options = calls.subscribes[0];
      expect(options?.fromPosition).toEqual(pos(50));
      expect(options?.filter).toMatchObject({ filterOn: 'streamName', prefixes: ['wallet-'] });
    });

    it('resubscribes after a drop from the last position delivered to the handler', async () => {
      const first = new StubStream<AllStreamResolvedEvent>([
        esdbEvent({ streamId: 'wallet-1', revision: 0, position: 10, type: 'A' }),
        esdbEvent({ streamId: 'wallet-1', revision: 1, position: 20, type: 'B' }),
      ]);
      // The server replays from the resume point; an event at or before it is not delivered twice.
      const second = new StubStream<AllStreamResolvedEvent>([
        esdbEvent({ streamId: 'wallet-1', revision: 1, position: 20, type: 'B' }),
        esdbEvent({ streamId: 'wallet-2', revision: 0, position: 30, type: 'C' }),
      ]);
      const streams = [first, second];
      const { client, calls } = stubClient({ subscribeToAll: () => streams.shift() ?? new StubStream() });
      const seen: string[] = [];
      const errors: unknown[] = [];
      const sub = new EventStoreDbEventStore(client, fast).subscribe(
        { after: null, batchSizeMax: 10, streamPrefix: 'wallet-' },
        async (events) => void seen.push(...events.map((e) => e.type)),
        (error) => errors.push(error),
      );
      await waitUntil(() => seen.length === 2);
      first.destroy(new UnavailableError(undefined, 'connection lost'));
      await waitUntil(() => seen.length === 3);
      await sub.close();

      expect(seen).toEqual(['A', 'B', 'C']);
      expect(errors).toEqual([]);
      expect(calls.subscribes.map((o) => o?.fromPosition)).toEqual([START, pos(20)]);
      expect(first.unsubscribed).toBe(true);
    });

    it('gives up after maxResubscribeAttempts consecutive drops and reports the error once', async () => {
      const drop = new UnavailableError(undefined, 'still down');
      const { client, calls } = stubClient({ subscribeToAll: () => failing(drop) });
      const errors: unknown[] = [];
      new EventStoreDbEventStore(client, { ...fast, maxResubscribeAttempts: 3 }).subscribe(
        { after: 7, batchSizeMax: 10, streamPrefix: 'wallet-' },
        async () => undefined,
        (error) => errors.push(error),
      );
      await waitUntil(() => errors.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(errors).toEqual([drop]);
      expect(calls.subscribes).toHaveLength(4);
      expect(calls.subscribes.map((o) => o?.fromPosition)).toEqual([pos(7), pos(7), pos(7), pos(7)]);
    });

    it('stops on a handler error (no resubscribe) and reports it', async () => {
      const { client, calls } = stubClient({
        subscribeToAll: () => new StubStream([esdbEvent({ streamId: 'wallet-1', revision: 0, position: 10 })]),
      });
      const boom = new Error('projection failed');
      const errors: unknown[] = [];
      const sub = new EventStoreDbEventStore(client, fast).subscribe(
        { after: null, batchSizeMax: 10, streamPrefix: 'wallet-' },
        async () => {
          throw boom;
        },
        (error) => errors.push(error),
      );
      await waitUntil(() => errors.length > 0);
      await sub.close();
      expect(errors).toEqual([boom]);
      expect(calls.subscribes).toHaveLength(1);
    });

    it('close() during a resubscribe backoff returns promptly and does not resubscribe', async () => {
      const { client, calls } = stubClient({ subscribeToAll: () => failing(new UnavailableError(undefined, 'down')) });
      const sub = new EventStoreDbEventStore(client, { resubscribeBaseDelayMs: 60_000, resubscribeMaxDelayMs: 60_000 }).subscribe(
        { after: null, batchSizeMax: 10, streamPrefix: 'wallet-' },
        async () => undefined,
        () => undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      const started = Date.now();
      await sub.close();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(calls.subscribes).toHaveLength(1);
    });

    it('close() on the store closes open subscriptions and disposes the client', async () => {
      const stream = new StubStream<AllStreamResolvedEvent>();
      const { client, calls } = stubClient({ subscribeToAll: () => stream });
      const store = new EventStoreDbEventStore(client, fast);
      store.subscribe({ after: null, batchSizeMax: 10, streamPrefix: 'wallet-' }, async () => undefined, () => undefined);
      await store.close();
      expect(stream.unsubscribed).toBe(true);
      expect(calls.disposed).toBe(1);
    });
  });
});

describe('EventStoreDbEventStore.fromConnectionString', () => {
  it('builds a real client from a connection string without connecting, and disposes it', async () => {
    const store = EventStoreDbEventStore.fromConnectionString('kurrentdb://localhost:2113?tls=false');
    await expect(store.close()).resolves.toBeUndefined();
  });

  it.each(['esdb://localhost:2113?tls=false', 'esdb+discover://cluster.example.net:2113', 'esdb://a:2113,b:2113,c:2113?tls=false'])(
    'accepts the existing %s without the client printing its plain-text esdb deprecation warning',
    async (url) => {
      const warnings: unknown[][] = [];
      const original = console.warn;
      console.warn = (...args: unknown[]) => void warnings.push(args);
      try {
        const store = EventStoreDbEventStore.fromConnectionString(url);
        await store.close();
        expect(warnings).toEqual([]);
      } finally {
        console.warn = original;
      }
    },
  );

  it('rewrites only the esdb schemes to their kurrentdb equivalents', () => {
    expect(toKurrentDbScheme('esdb://localhost:2113?tls=false')).toBe('kurrentdb://localhost:2113?tls=false');
    expect(toKurrentDbScheme('ESDB+discover://h:2113')).toBe('kurrentdb+discover://h:2113');
    expect(toKurrentDbScheme('kurrentdb://esdb://x')).toBe('kurrentdb://esdb://x');
    expect(toKurrentDbScheme('kdb://h:2113')).toBe('kdb://h:2113');
  });

  it('refuses a scheme neither client nor bridge accepts', () => {
    expect(() => EventStoreDbEventStore.fromConnectionString('http://localhost:2113')).toThrow();
  });
});

describe('read deadlines (the client ignores `deadline` on reads; the adapter enforces it)', () => {
  /** A read page whose first batch never arrives, as a stalled server gives through the bridge. */
  function stalled(): AsyncIterable<never> {
    return { [Symbol.asyncIterator]: () => ({ next: () => new Promise<never>(() => undefined) }) };
  }

  it('fails a read page not complete within readDeadlineMs with the client DeadlineExceededError', async () => {
    const READ_DEADLINE_MS = 40;
    const { client, calls } = stubClient({ readStream: () => stalled(), readAll: () => stalled() });
    const store = new EventStoreDbEventStore(client, { readDeadlineMs: READ_DEADLINE_MS });
    const startedAtMs = Date.now();
    await expect(store.readStream('s', { fromRevision: 0, maxCount: 10 })).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(store.readAll({ after: null, maxCount: 10 })).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(store.headPosition()).rejects.toThrow(`read the $all head: EventStoreDB did not answer within ${READ_DEADLINE_MS} ms`);
    expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(3 * READ_DEADLINE_MS - 15);
    // Still passed, for a client that forwards it to the server again.
    expect(calls.readStreams[0].options).toMatchObject({ deadline: READ_DEADLINE_MS });
  });

  it('bounds the whole page, not each event: a page that trickles past the deadline fails', async () => {
    async function* trickle() {
      for (let i = 0; i < 10; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 15));
        yield esdbEvent({ streamId: 's', revision: i, position: 10 + i });
      }
    }
    const { client } = stubClient({ readStream: () => trickle() });
    await expect(new EventStoreDbEventStore(client, { readDeadlineMs: 60 }).readStream('s', { fromRevision: 0, maxCount: 10 })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
  });

  it('a page that completes in time is returned whole, and its timer does not outlive it', async () => {
    const { client } = stubClient({ readStream: () => page([esdbEvent({ streamId: 's', revision: 0, position: 10 })]) });
    const store = new EventStoreDbEventStore(client, { readDeadlineMs: 60_000 });
    const events = await store.readStream('s', { fromRevision: 0, maxCount: 10 });
    expect(events.map((e) => e.position)).toEqual([10]);
  });
});
