import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { PassThrough, type Readable } from 'node:stream';
import type { AppendResult as EsdbAppendResult, SubscribeToAllOptions } from '@eventstore/db-client';
import { WrongExpectedRevisionError, type RecordedEvent } from '../event-store.port.js';
import { EventStoreDbEventStore, type EsdbClient, type EventStoreDbEventStoreOptions } from './eventstoredb-event-store.js';

/*
 * No server: these tests drive the installed @eventstore/db-client 6.2.1's own classes
 * (its `Subscription` Transform on a fake gRPC read stream, its `batchAppend` with its
 * module-wide promise map on fake batch-append streams) with real protobuf messages, and
 * put our adapter on top where it matters. What they pin down is the client's behaviour
 * the adapter must live with, and the adapter's answer to it.
 */

const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@eventstore/db-client'));
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
const streamsPb = requireFromClient('../generated/streams_pb.js');
const sharedPb = requireFromClient('../generated/shared_pb.js');
const statusPb = requireFromClient('../generated/status_pb.js');
const anyPb = requireFromClient('google-protobuf/google/protobuf/any_pb.js');

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

/** What @grpc/grpc-js hands the client when the server ends a call with a status. */
function serviceError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
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

describe('EventStoreDB client 6.2.1 classes under the adapter', () => {
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

    it('6.2.1: a transport error on one batch stream rejects appends on another, and their late reply throws in the listener', async () => {
      const self = clientThis(true);
      const first = self.channel.stream;
      const a = batchAppend.call(self, 'wallet-a', [event], { expectedRevision: 'any', batchAppendSize: 1 << 20 });
      await waitUntil(() => first.written.length > 0);
      // The channel was replaced (reconnect): the next append goes out on a new stream.
      self.channel = { stream: new FakeBatchStream() };
      const second = self.channel.stream;
      const b = batchAppend.call(self, 'wallet-b', [event], { expectedRevision: 'any', batchAppendSize: 1 << 20 });
      await waitUntil(() => second.written.length > 0);
      const aOutcome = a.catch((e: unknown) => e);
      const bOutcome = b.catch((e: unknown) => e);

      first.emit('error', serviceError(14, 'connection reset'));
      expect(await aOutcome).toBeInstanceOf(Error);
      // B's stream is fine, yet the shared promise map rejected B as well...
      expect(await bOutcome).toBeInstanceOf(Error);
      // ...and B's real reply then finds no entry: a TypeError inside a gRPC 'data' listener,
      // which nothing catches in production (an uncaught exception ends the process).
      expect(() => second.emit('data', successResp(second.correlationId(), 0, 100))).toThrow(TypeError);
    });

    it('6.2.1 with throwOnAppendFailure=false resolves a conflict as success:false with a wrong revision; the adapter raises the conflict', async () => {
      const self = clientThis(false);
      const stream = self.channel.stream;
      const pending = batchAppend.call(self, 'wallet-c', [event], { expectedRevision: 2n, batchAppendSize: 1 << 20 });
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
      // The client reports `BigInt(hasCurrentStreamRevision())`, i.e. 1n, not the actual 4.
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
