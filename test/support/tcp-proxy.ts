import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for fault injection: it forwards bytes both ways between a client and one
 * target, and can cut connections on demand or when the client sends a given message.
 *
 * Messages are framed the way the MongoDB wire protocol frames them (a little-endian
 * int32 total length first), which is all `cutOnMessage` needs; plain forwarding and
 * `cutAll` work for any protocol.
 */
export interface TcpFaultProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Largest framed message the proxy buffers while looking for a match; larger ones are forwarded unread. */
  readonly messageBytesMax?: number;
}

/** What a matching rule does with the message that matched. */
export type CutMode =
  /** The message never reaches the server: the write did not happen, the client sees a reset. */
  | 'drop'
  /** The message reaches the server, the reply never reaches the client: the write happened, the client cannot know. */
  | 'lose-reply';

interface CutRule {
  readonly matches: (message: Buffer) => boolean;
  readonly mode: CutMode;
  remaining: number;
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
  pending: Buffer;
  /** Set once the pair is cut: bytes still in flight are dropped. */
  cut: boolean;
  /** Replies are swallowed from here on (a `lose-reply` cut waits for the server to answer, then cuts). */
  swallowReplies: boolean;
}

const DEFAULT_MESSAGE_BYTES_MAX = 16 * 1024 * 1024;

export class TcpFaultProxy {
  private readonly pairs = new Set<Pair>();
  private rules: CutRule[] = [];
  private cutCount = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: TcpFaultProxyOptions,
  ) {}

  static async start(options: TcpFaultProxyOptions): Promise<TcpFaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new TcpFaultProxy(server, (server.address() as { port: number }).port, options);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** Connections cut so far, by any means. */
  get cuts(): number {
    return this.cutCount;
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  /** Cuts the connection carrying each of the next `times` client messages that match. */
  cutOnMessage(matches: (message: Buffer) => boolean, options: { times: number; mode: CutMode }): void {
    if (!Number.isSafeInteger(options.times) || options.times < 1) throw new RangeError('times must be a positive integer');
    this.rules.push({ matches, mode: options.mode, remaining: options.times });
  }

  /** Rules not yet used up. */
  get armedCuts(): number {
    return this.rules.reduce((sum, rule) => sum + rule.remaining, 0);
  }

  disarm(): void {
    this.rules = [];
  }

  /** Resets every open connection now. */
  cutAll(): number {
    const pairs = [...this.pairs];
    for (const pair of pairs) this.cut(pair);
    return pairs.length;
  }

  async close(): Promise<void> {
    this.disarm();
    for (const pair of [...this.pairs]) this.cut(pair, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const server = connect(this.options.targetPort, this.options.targetHost);
    const pair: Pair = { client, server, pending: Buffer.alloc(0), cut: false, swallowReplies: false };
    this.pairs.add(pair);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const end = () => this.cut(pair, false);
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    server.on('data', (chunk: Buffer) => {
      if (pair.cut) return;
      if (pair.swallowReplies) {
        // The server has answered the message whose reply is to be lost: cut before any of it gets through.
        this.cut(pair);
        return;
      }
      client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => this.fromClient(pair, chunk));
  }

  private fromClient(pair: Pair, chunk: Buffer): void {
    if (pair.cut) return;
    if (this.rules.length === 0 && pair.pending.length === 0) {
      pair.server.write(chunk);
      return;
    }
    pair.pending = pair.pending.length === 0 ? chunk : Buffer.concat([pair.pending, chunk]);
    while (pair.pending.length >= 4 && !pair.cut) {
      const length = pair.pending.readInt32LE(0);
      const max = this.options.messageBytesMax ?? DEFAULT_MESSAGE_BYTES_MAX;
      if (length < 4 || length > max) {
        // Not a framed message we can read: stop inspecting this connection, forward as is.
        pair.server.write(pair.pending);
        pair.pending = Buffer.alloc(0);
        return;
      }
      if (pair.pending.length < length) return;
      const message = pair.pending.subarray(0, length);
      pair.pending = pair.pending.subarray(length);
      const rule = this.rules.find((candidate) => candidate.remaining > 0 && candidate.matches(message));
      if (rule === undefined) {
        pair.server.write(message);
        continue;
      }
      rule.remaining -= 1;
      this.rules = this.rules.filter((candidate) => candidate.remaining > 0);
      if (rule.mode === 'drop') {
        this.cut(pair);
        return;
      }
      pair.swallowReplies = true;
      pair.server.write(message);
    }
  }

  /** `reset`: a cut by the proxy (counted, sockets reset); otherwise one side went away by itself. */
  private cut(pair: Pair, reset = true): void {
    if (!this.pairs.delete(pair)) return;
    pair.cut = true;
    if (reset) this.cutCount += 1;
    pair.client.resetAndDestroy();
    pair.server.resetAndDestroy();
  }
}

/**
 * The command name of a MongoDB OP_MSG (opCode 2013): the first key of its body section
 * (kind 0). `null` for anything else (handshakes on OP_QUERY, compressed messages).
 */
export function mongoCommandName(message: Buffer): string | null {
  const OP_MSG = 2013;
  // header: length, requestId, responseTo, opCode (4 x int32); then flagBits (int32), then sections.
  if (message.length < 27 || message.readInt32LE(12) !== OP_MSG) return null;
  const kindOffset = 20;
  if (message[kindOffset] !== 0) return null;
  // Body document: int32 length, then its first element: type byte, then the key as a C string.
  const keyStart = kindOffset + 1 + 4 + 1;
  const keyEnd = message.indexOf(0, keyStart);
  return keyEnd === -1 ? null : message.toString('utf8', keyStart, keyEnd);
}
