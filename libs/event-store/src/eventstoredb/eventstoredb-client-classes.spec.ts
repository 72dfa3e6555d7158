import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { PassThrough, type Readable } from 'node:stream';
import {
  DeadlineExceededError,
  KurrentDBClient,
  UnavailableError,
  UnknownError,
  type AppendResult as EsdbAppendResult,
  type SubscribeToAllOptions,
} from '@kurrent/kurrentdb-client';
import { WrongExpectedRevisionError, type RecordedEvent } from '../event-store.port.js';
import { EventStoreDbEventStore, type EsdbClient, type EventStoreDbEventStoreOptions } from './eventstoredb-event-store.js';

/*
 * No server: these tests drive the installed @kurrent/kurrentdb-client 1.3.1's own classes
 * (its `Subscription` Transform on a fake gRPC read stream, its `batchAppend` and promise
 * maps on fake batch-append streams, its `readStream`/`readAll` over a fake native bridge)
 * with real protobuf messages, and put our adapter on top where it matters. What they pin
 * down is the client's behaviour the adapter must live with, and the adapter's answer to it.
 */

const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@kurrent/kurrentdb-client'));
const { Subscription: ClientSubscription } = requireFromClient('./streams/utils/Subscription.js') as {
  Subscription: new (
    createGRPCStream: () => Promise<Readable>,
    convert: (event: unknown) => unknown,
    readableOptions: object,
  ) => Readable & { unsubscribe(): Promise<void> };
};
const { convertGrpcEvent } = requireFromClient('./utils/convertGrpcEvent.js') as { convertGrpcEvent: (event: unknown) => unknown };
const { batchAppend } = requireFromClient('./streams/appendToStream/batchAppend.js') as {
  batchAppend: (this: unknown, stream: string, events: unknown[], options: object) => Promise<EsdbAppendResult>;
};
const { parseUUID } = requireFromClient('./utils/grpcUUID.js') as { parseUUID: (uuid: unknown) => string };
const streamsPb = requireFromClient('../generated/kurrentdb/protocols/v1/streams_pb.js');
const sharedPb = requireFromClient('../generated/kurrentdb/protocols/v1/shared_pb.js');
const statusPb = requireFromClient('../generated/kurrentdb/protocols/v1/status_pb.js');
const anyPb = requireFromClient('google-protobuf/google/protobuf/any_pb.js');
const { Metadata: GrpcMetadata } = requireFromClient('@grpc/grpc-js') as { Metadata: new () => object };

/** A gRPC read stream as the client sees it: readable ReadResp messages, and `cancel()`. */
class FakeReadStream extends PassThrough {
  constructor() {
    super({ objectMode: true });
  }
  cancel(): void {
    this.destroy();
  }
}

function readEvent(streamId: string, revision: number, position: number): unknown {
  const record = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
  const id = new sharedPb.UUID();
  id.setString(randomUUID());
  record.setId(id);
  const identifier = new sharedPb.StreamIdentifier();
  identifier.setStreamName(Buffer.from(streamId, 'utf8'));
  record.setStreamIdentifier(identifier);
  record.setStreamRevision(String(revision));
  record.setPreparePosition(String(position));
  record.setCommitPosition(String(position));
  const metadata = record.getMetadataMap();
  metadata.set('type', 'Deposited');
  metadata.set('content-type', 'application/json');
  metadata.set('created', String(BigInt(Date.parse('2026-01-01T00:00:00Z')) * 10_000n));
  record.setData(Buffer.from(JSON.stringify({ revision }), 'utf8'));
  record.setCustomMetadata(Buffer.from(JSON.stringify({ schemaVersion: 1 }), 'utf8'));
  const event = new streamsPb.ReadResp.ReadEvent();
  event.setEvent(record);
  event.setCommitPosition(String(position));
  const resp = new streamsPb.ReadResp();
  resp.setEvent(event);
  return resp;
}

function confirmation(): unknown {
  const confirmed = new streamsPb.ReadResp.SubscriptionConfirmation();
  confirmed.setSubscriptionId(randomUUID());
  const resp = new streamsPb.ReadResp();
  resp.setConfirmation(confirmed);
  return resp;
}

/** What @grpc/grpc-js hands the client when the server ends a call with a status (always with trailers). */
function serviceError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new GrpcMetadata() });
}

/**
 * A client whose `subscribeToAll` builds the library's own `Subscription` over a fake read
 * stream, passing on the readable options the adapter gives it; `script` feeds each stream.
 */
function subscriptionClient(script: (stream: FakeReadStream, attempt: number) => void) {
  const calls: Array<{ options: SubscribeToAllOptions | undefined; readableOptions: object | undefined }> = [];
  const client = {
    subscribeToAll: (options?: SubscribeToAllOptions, readableOptions?: object) => {
      calls.push({ options, readableOptions });
      const stream = new FakeReadStream();
      const attempt = calls.length;
      setImmediate(() => script(stream, attempt));
      return new ClientSubscription(async () => stream, convertGrpcEvent, readableOptions ?? {});
    },
    dispose: async () => undefined,
  };
  return { client: client as unknown as EsdbClient, calls };
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const quick: EventStoreDbEventStoreOptions = {
  maxResubscribeAttempts: 3,
  resubscribeBaseDelayMs: 1,
  resubscribeMaxDelayMs: 2,
  random: () => 0,
};

describe('KurrentDB client 1.3.1 classes under the adapter', () => {
  describe('subscription batches (item 2)', () => {
    const EVENTS = 2_000;
    const BATCH_SIZE_MAX = 500;
    const feedAll = (stream: FakeReadStream) => {
      stream.write(confirmation());
      for (let i = 0; i < EVENTS; i += 1) stream.write(readEvent('wallet-1', i, (i + 1) * 100));
    };

    async function catchUp(client: EsdbClient): Promise<number[]> {
      const sizes: number[] = [];
      const seen: RecordedEvent[] = [];
      const store = new EventStoreDbEventStore(client, quick);
      const sub = store.subscribe(
        { after: null, batchSizeMax: BATCH_SIZE_MAX, streamPrefix: 'wallet-' },
        async (events) => {
          sizes.push(events.length);
          seen.push(...events);
          // A handler that takes a moment, as a projector writing to its read models does.
          await new Promise((resolve) => setTimeout(resolve, 2));
        },
        (error) => {
          throw error;
        },
      );
      await waitUntil(() => seen.length >= EVENTS);
      await sub.close();
      expect(seen.map((e) => e.revision)).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
      return sizes;
    }

    it('without highWaterMark the client buffers about 31 items, so 500-event batches never form', async () => {
      // The adapter's options reach the client; this client drops the readable options, as the adapter once did.
      const { client } = subscriptionClient(feedAll);
      const dropping = {
        ...client,
        subscribeToAll: (options?: SubscribeToAllOptions) => client.subscribeToAll(options),
      } as EsdbClient;
      const sizes = await catchUp(dropping);
      // Measured: 65 batches, none over 31.
      expect(Math.max(...sizes)).toBeLessThanOrEqual(32);
      expect(sizes.length).toBeGreaterThanOrEqual(EVENTS / 32);
    });

    it('catches up 2,000 events in full batches of batchSizeMax', async () => {
      const { client, calls } = subscriptionClient(feedAll);
      const sizes = await catchUp(client);
      expect(calls[0].readableOptions).toEqual({ highWaterMark: BATCH_SIZE_MAX });
      // Measured: [500, 500, 500, 500]. The first read may return before the buffer fills, so allow one short batch each end.
      expect(sizes.length).toBeLessThanOrEqual(EVENTS / BATCH_SIZE_MAX + 2);
      expect(sizes.filter((size) => size === BATCH_SIZE_MAX).length).toBeGreaterThanOrEqual(EVENTS / BATCH_SIZE_MAX - 1);
    });
  });

  describe('resubscription (item 1)', () => {
    it('gives up and reports through onError when every attempt fails after its confirmation', async () => {
      // The server confirms, then fails during catch-up: a reset on confirmation would loop forever.
      const { client, calls } = subscriptionClient((stream) => {
        stream.write(confirmation());
        setImmediate(() => stream.destroy(serviceError(14, 'connection reset')));
      });
      const logs: string[] = [];
      const store = new EventStoreDbEventStore(client, { ...quick, log: (level, message) => logs.push(`${level}: ${message}`) });
      const errors: unknown[] = [];
      const sub = store.subscribe({ after: 700, batchSizeMax: 10, streamPrefix: 'wallet-' }, async () => undefined, (e) => errors.push(e));
      await waitUntil(() => errors.length > 0);
      await sub.close();
      expect(calls).toHaveLength(4);
      expect(logs.filter((line) => line.startsWith('warn:'))).toHaveLength(3);
      expect(logs[0]).toContain('attempt 1 of 3');
      expect(store.subscriptionHealth()).toMatchObject({ resubscribes: 3, lastDeliveryAtMs: null });
      expect(store.subscriptionHealth().lastHeartbeatAtMs).not.toBeNull();
    });

    it('treats InvalidPosition as fatal: one attempt, onError, no resubscribe', async () => {
      // KurrentDB 24.10 answers a subscription from a position that is not in its log with
      // a confirmation, then status INVALID_ARGUMENT "Trying to read from an invalid position.".
      const { client, calls } = subscriptionClient((stream) => {
        stream.write(confirmation());
        setImmediate(() => stream.destroy(serviceError(3, 'Trying to read from an invalid position.')));
      });
      const logs: string[] = [];
      const store = new EventStoreDbEventStore(client, { ...quick, log: (level, message) => logs.push(`${level}: ${message}`) });
      const errors: unknown[] = [];
      const sub = store.subscribe({ after: 123_456, batchSizeMax: 10, streamPrefix: 'wallet-' }, async () => undefined, (e) => errors.push(e));
      await waitUntil(() => errors.length > 0);
      await sub.close();
      expect(calls).toHaveLength(1);
      expect(String((errors[0] as Error).message)).toContain('invalid position');
      expect(logs).toEqual([expect.stringContaining('error: EventStoreDB refused the $all subscription from 123456')]);
    });

    it('resets the attempt counter only after a delivered batch', async () => {
      // Each attempt delivers one new event, then drops: progress every time, so it never gives up.
      const { client, calls } = subscriptionClient((stream, attempt) => {
        stream.write(confirmation());
        stream.write(readEvent('wallet-1', attempt - 1, attempt * 100));
        setTimeout(() => stream.destroy(serviceError(14, 'connection reset')), 5);
      });
      const store = new EventStoreDbEventStore(client, { ...quick, log: () => undefined });
      const seen: number[] = [];
      const errors: unknown[] = [];
      const sub = store.subscribe(
        { after: null, batchSizeMax: 10, streamPrefix: 'wallet-' },
        async (events) => void seen.push(...events.map((e) => e.position)),
        (e) => errors.push(e),
      );
      await waitUntil(() => seen.length >= 6);
      await sub.close();
      expect(errors).toEqual([]);
      expect(seen.slice(0, 6)).toEqual([100, 200, 300, 400, 500, 600]);
      expect(calls.length).toBeGreaterThan(quick.maxResubscribeAttempts!);
      // Resumed after the last delivered event each time.
      expect(calls[1].options?.fromPosition).toEqual({ commit: 100n, prepare: 100n });
    });

    it('subscribes with a system-event filter when there is no prefix', () => {
      const { client, calls } = subscriptionClient(() => undefined);
      const sub = new EventStoreDbEventStore(client, quick).subscribe({ after: null, batchSizeMax: 5, streamPrefix: '' }, async () => undefined, () => undefined);
      expect(calls[0].options?.filter).toMatchObject({ filterOn: 'eventType', regex: '^[^$].*' });
      return sub.close();
    });
  });

  describe('batch appends (items 3 and 4)', () => {
    /** A batch-append call stream: records what is written, answers when the test says. */
    class FakeBatchStream extends EventEmitter {
      readonly written: Array<{ getCorrelationId(): unknown }> = [];
      write(request: { getCorrelationId(): unknown }): boolean {
        this.written.push(request);
        return true;
      }
      correlationId(): string {
        return parseUUID(this.written[0].getCorrelationId());
      }
    }

    /** The `this` batchAppend runs with: one gRPC client per channel, a stream cached per client. */
    function clientThis(throwOnAppendFailure: boolean) {
      const self = {
        throwOnAppendFailure,
        channel: { stream: new FakeBatchStream() },
        GRPCStreamCreator:
          (_client: unknown, _name: string, creator: (grpc: unknown) => FakeBatchStream, cache: WeakMap<object, FakeBatchStream>) =>
          async () => {
            const grpc = self.channel;
            if (!cache.has(grpc)) cache.set(grpc, creator({ batchAppend: () => grpc.stream }));
            return cache.get(grpc)!;
          },
        callArguments: () => [],
        createDeadline: () => new Date(Date.now() + 10_000),
      };
      return self;
    }

    const event = { id: randomUUID(), type: 'Deposited', contentType: 'application/json', data: {}, metadata: {} };

    function successResp(correlationId: string, revision: number, position: number): unknown {
      const success = new streamsPb.BatchAppendResp.Success();
      success.setCurrentRevision(String(revision));
      const at = new sharedPb.AllStreamPosition();
      at.setCommitPosition(String(position));
      at.setPreparePosition(String(position));
      success.setPosition(at);
      const resp = new streamsPb.BatchAppendResp();
      const id = new sharedPb.UUID();
      id.setString(correlationId);
      resp.setCorrelationId(id);
      resp.setSuccess(success);
      return resp;
    }

    it('a transport error on one batch stream rejects only its own appends; a late reply on it is dropped, not thrown (PR #523)', async () => {
      const self = clientThis(true);
      const first = self.channel.stream;
      const a = batchAppend.call(self, 'wallet-a', [event], { streamState: 'any', batchAppendSize: 1 << 20 });
      await waitUntil(() => first.written.length > 0);
      // The channel was replaced (reconnect): the next append goes out on a new stream.
      self.channel = { stream: new FakeBatchStream() };
      const second = self.channel.stream;
      const b = batchAppend.call(self, 'wallet-b', [event], { streamState: 'any', batchAppendSize: 1 << 20 });
      await waitUntil(() => second.written.length > 0);
      const aOutcome = a.catch((e: unknown) => e);
      let bSettled = false;
      void b.then(
        () => (bSettled = true),
        () => (bSettled = true),
      );

      first.emit('error', serviceError(14, 'connection reset'));
      // A was on the broken stream: rejected, as the client's UnavailableError.
      expect(await aOutcome).toBeInstanceOf(UnavailableError);
      // B's stream is fine and its append still pending. (6.2.1's module-wide map rejected B here.)
      await new Promise((resolve) => setImmediate(resolve));
      expect(bSettled).toBe(false);
      // A late reply for A on the broken stream finds no entry and is dropped. (6.2.1 threw a
      // TypeError inside this gRPC 'data' listener, which nothing catches: the process ended.)
      expect(() => first.emit('data', successResp(first.correlationId(), 0, 50))).not.toThrow();
      // B's real reply resolves B with the server's revision and position.
      second.emit('data', successResp(second.correlationId(), 0, 100));
      await expect(b).resolves.toEqual({ success: true, nextExpectedRevision: 0n, position: { commit: 100n, prepare: 100n } });
      // And a duplicate reply for B, now settled, is dropped as well.
      expect(() => second.emit('data', successResp(second.correlationId(), 0, 100))).not.toThrow();
    });

    it('with throwOnAppendFailure=false the client resolves a conflict as success:false with a wrong revision; the adapter raises the conflict', async () => {
      const self = clientThis(false);
      const stream = self.channel.stream;
      const pending = batchAppend.call(self, 'wallet-c', [event], { streamState: 2n, batchAppendSize: 1 << 20 });
      await waitUntil(() => stream.written.length > 0);
      const wrong = new sharedPb.WrongExpectedVersion();
      wrong.setCurrentStreamRevision('4');
      wrong.setExpectedStreamPosition('2');
      const details = new anyPb.Any();
      details.pack(wrong.serializeBinary(), 'event_store.client.WrongExpectedVersion');
      const status = new statusPb.Status();
      status.setDetails(details);
      const resp = new streamsPb.BatchAppendResp();
      const id = new sharedPb.UUID();
      id.setString(stream.correlationId());
      resp.setCorrelationId(id);
      resp.setError(status);
      const identifier = new sharedPb.StreamIdentifier();
      identifier.setStreamName(Buffer.from('wallet-c'));
      resp.setStreamIdentifier(identifier);
      stream.emit('data', resp);
      const result = await pending;
      // The client (6.2.1 and 1.3.1 alike) reports `BigInt(hasCurrentStreamRevision())`, i.e. 1n, not the actual 4.
      expect(result).toEqual({ success: false, nextExpectedRevision: 1n, position: undefined });

      const reader = new PassThrough({ objectMode: true });
      reader.end({ event: { streamId: 'wallet-c', revision: 4n, isJson: true, type: 'X', id: randomUUID(), data: {}, metadata: {}, created: new Date(), position: { commit: 400n, prepare: 400n } } });
      const client = {
        appendToStream: async () => result,
        readStream: () => reader,
        dispose: async () => undefined,
      } as unknown as EsdbClient;
      const error = await new EventStoreDbEventStore(client, quick)
        .append('wallet-c', 2, [{ eventId: randomUUID(), type: 'X', schemaVersion: 1, data: {}, metadata: {} }])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedRevisionError);
      expect(error).toMatchObject({ streamId: 'wallet-c', expected: 2, actual: 4 });
    });

    it('refuses throwOnAppendFailure=false in the connection string', () => {
      expect(() => EventStoreDbEventStore.fromConnectionString('esdb://localhost:2113?tls=false&throwOnAppendFailure=false')).toThrow(
        /throwOnAppendFailure=false is not supported/,
      );
    });
  });

  describe('reads through the native bridge (read deadlines, error mapping)', () => {
    type BridgeBatch = { value: unknown[]; done: boolean };

    /** `rustClient` as the client calls it: each read records its options and pulls batches from `next`. */
    function fakeBridge(next: () => Promise<BridgeBatch>) {
      const reads: Array<Record<string, unknown>> = [];
      const read = (options: Record<string, unknown>) => {
        reads.push(options);
        return { [Symbol.asyncIterator]: () => ({ next }) };
      };
      return { bridge: { readStream: (_stream: string, options: Record<string, unknown>) => read(options), readAll: read }, reads };
    }

    /** The real client class over a fake bridge: its constructor takes the bridge first and connects to nothing. */
    function clientOver(bridge: unknown): EsdbClient {
      const Client = KurrentDBClient as unknown as new (rust: unknown, settings: object, credentials: object) => KurrentDBClient;
      return new Client(bridge, { endpoint: { address: 'localhost', port: 2113 } }, { insecure: true });
    }

    /** A record as the bridge hands it over (bytes for data and metadata, ms for created). */
    function rustEvent(streamId: string, revision: number, position: number) {
      return {
        event: {
          streamId,
          id: randomUUID(),
          type: 'Deposited',
          isJson: true,
          revision: BigInt(revision),
          created: Date.parse('2026-01-01T00:00:00Z'),
          data: Buffer.from(JSON.stringify({ revision })),
          metadata: Buffer.from(JSON.stringify({ schemaVersion: 2, $correlationId: 'c-9' })),
          position: { commit: BigInt(position), prepare: BigInt(position) },
        },
        commitPosition: BigInt(position),
      };
    }

    const bridgeError = (name: string, message: string) => Object.assign(new Error(message), { name, metadata: {} });
    const READ_DEADLINE_MS = 50;

    it('the client converts bridge events; the adapter maps them as before', async () => {
      const batches: BridgeBatch[] = [
        { value: [rustEvent('wallet-r', 0, 300), rustEvent('wallet-r', 1, 400)], done: false },
        { value: [], done: true },
      ];
      const { bridge, reads } = fakeBridge(async () => batches.shift() ?? { value: [], done: true });
      const events = await new EventStoreDbEventStore(clientOver(bridge), quick).readStream('wallet-r', { fromRevision: 0, maxCount: 10 });
      expect(events.map((e) => [e.revision, e.position, e.schemaVersion, e.data, e.metadata])).toEqual([
        [0, 300, 2, { revision: 0 }, { correlationId: 'c-9' }],
        [1, 400, 2, { revision: 1 }, { correlationId: 'c-9' }],
      ]);
      expect(reads[0]).toMatchObject({ fromRevision: 0n, maxCount: 10n, requiresLeader: true });
    });

    it('client 1.3.1 gives its native bridge no deadline, so the adapter fails a stalled read page at readDeadlineMs', async () => {
      const { bridge, reads } = fakeBridge(() => new Promise<BridgeBatch>(() => undefined));
      const store = new EventStoreDbEventStore(clientOver(bridge), { ...quick, readDeadlineMs: READ_DEADLINE_MS });
      for (const read of [
        () => store.readStream('wallet-s', { fromRevision: 0, maxCount: 10 }),
        () => store.readAll({ after: null, maxCount: 10 }),
        () => store.headPosition(),
      ]) {
        const startedAtMs = Date.now();
        const error = await read().catch((e: unknown) => e);
        const elapsedMs = Date.now() - startedAtMs;
        expect(error).toBeInstanceOf(DeadlineExceededError);
        expect(String((error as Error).message)).toContain(`within ${READ_DEADLINE_MS} ms`);
        expect(elapsedMs).toBeGreaterThanOrEqual(READ_DEADLINE_MS - 5);
        expect(elapsedMs).toBeLessThan(2_000);
      }
      // The adapter passed `deadline` (see the stub-client tests); the client dropped it on the way to the bridge.
      expect(reads).toHaveLength(3);
      for (const options of reads) expect(options).not.toHaveProperty('deadline');
    });

    it('an abandoned read that fails late does not surface as an unhandled rejection', async () => {
      let failLate: (error: Error) => void = () => undefined;
      const { bridge } = fakeBridge(() => new Promise<BridgeBatch>((_resolve, reject) => (failLate = reject)));
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const store = new EventStoreDbEventStore(clientOver(bridge), { ...quick, readDeadlineMs: READ_DEADLINE_MS });
        await expect(store.readStream('wallet-t', { fromRevision: 0, maxCount: 10 })).rejects.toBeInstanceOf(DeadlineExceededError);
        failLate(bridgeError('UnavailableError', 'connection reset'));
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('bridge errors arrive as the client classes: StreamNotFound reads as [], Unavailable and Unknown pass through', async () => {
      const read = (error: Error) => {
        const { bridge } = fakeBridge(() => Promise.reject(error));
        return new EventStoreDbEventStore(clientOver(bridge), quick).readStream('wallet-u', { fromRevision: 0, maxCount: 10 });
      };
      await expect(read(bridgeError('StreamNotFoundError', 'StreamNotFoundError'))).resolves.toEqual([]);
      await expect(read(bridgeError('UnavailableError', 'UnavailableError'))).rejects.toBeInstanceOf(UnavailableError);
      // Anything the bridge does not name (a gRPC status such as InvalidArgument) is an UnknownError carrying its text.
      const unknown = await read(bridgeError('UnknownError', 'Trying to read from an invalid position.')).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(UnknownError);
      expect(unknown).toMatchObject({ message: 'Trying to read from an invalid position.', code: undefined });
    });
  });

  it('looks the position up when an idempotent retry comes back without one', async () => {
    const reader = new PassThrough({ objectMode: true });
    reader.end({ event: { streamId: 'wallet-d', revision: 1n, isJson: true, type: 'X', id: randomUUID(), data: {}, metadata: {}, created: new Date(), position: { commit: 900n, prepare: 900n } } });
    const reads: unknown[] = [];
    const client = {
      appendToStream: async () => ({ success: true, nextExpectedRevision: 1n, position: undefined }),
      readStream: (_stream: string, options: unknown) => {
        reads.push(options);
        return reader;
      },
      dispose: async () => undefined,
    } as unknown as EsdbClient;
    const result = await new EventStoreDbEventStore(client, quick).append('wallet-d', 0, [
      { eventId: randomUUID(), type: 'X', schemaVersion: 1, data: {}, metadata: {} },
    ]);
    expect(result).toEqual({ lastRevision: 1, lastPosition: 900 });
    expect(reads).toEqual([expect.objectContaining({ fromRevision: 1n, maxCount: 1n, requiresLeader: true })]);
  });
});
