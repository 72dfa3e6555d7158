import { connect, type Socket } from 'node:net';

/** One HTTP/1.1 response as read off the wire. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A real TCP connection, for what fetch will not do: partial bodies, huge headers, pipelining, hanging up. */
export class RawConnection {
  private received = Buffer.alloc(0);
  private closedFlag = false;
  private readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    // A reset from the server after it answered is expected here; the answer is what counts.
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closedFlag = true;
        resolve();
      }),
    );
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(text, (error) => (error ? reject(error) : resolve())));
  }

  /** Hangs up without finishing the request. */
  destroy(): void {
    this.socket.destroy();
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Waits until `count` complete responses arrived (or the server closed), within `timeoutMs`. */
  async responses(count: number, timeoutMs: number): Promise<RawResponse[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponses(this.received);
      if (parsed.length >= count || this.closedFlag) return parsed;
      if (Date.now() > deadline)
        throw new Error(`${parsed.length} of ${count} responses within ${timeoutMs} ms; got: ${this.received.toString()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  waitClosed(timeoutMs: number): Promise<boolean> {
    return Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs)),
    ]);
  }
}

/** Responses with Content-Length, one after another (what our server sends). */
export function parseResponses(buffer: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = buffer;
  for (;;) {
    const headerEnd = rest.indexOf('\r\n\r\n');
    if (headerEnd < 0) return responses;
    const [statusLine, ...lines] = rest.subarray(0, headerEnd).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = headerEnd + 4;
    if (rest.length < bodyStart + length) return responses;
    responses.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: rest.subarray(bodyStart, bodyStart + length).toString('utf8'),
    });
    rest = rest.subarray(bodyStart + length);
  }
}

/** The head of a request, `Connection: keep-alive`, with the given headers. */
export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: 'localhost', connection: 'keep-alive', ...headers }).map(
    ([name, value]) => `${name}: ${value}`,
  );
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
