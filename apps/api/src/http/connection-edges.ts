import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { ErrorBody } from './api-errors.js';

const CLIENT_ABORTS_METRIC = 'http_client_aborts_total';
const TIMEOUT_CHECK_INTERVAL_MS = 500;

/**
 * What happens at the edges of a connection, outside any route: a client that hangs up
 * mid-request, a request that never arrives in full, headers too large to parse, and
 * requests that arrive while the server drains. Each gets our `{code, message}` body when
 * the socket still allows an answer, and none of them is logged as our error.
 */
export class ConnectionEdges {
  private aborts: Counter | undefined;
  private draining = false;
  /** Sockets we closed ourselves after answering (e.g. 408): their requests are not the client's aborts. */
  private readonly closedByUs = new WeakSet<Socket>();

  constructor(private readonly requestTimeoutMs: number) {}

  /** Fastify's options for the edges; spread into the server options. */
  fastifyOptions(): Pick<FastifyHttpOptions<Server>, 'clientErrorHandler' | 'return503OnClosing' | 'connectionTimeout' | 'http'> {
    const answer = (fastify: FastifyInstance, error: Error & { code?: string }, socket: Socket) =>
      this.answerClientError(fastify, error, socket);
    return {
      // Node checks for requests past their timeout only every `connectionsCheckingInterval`
      // (30 s by default), and an idle socket is dropped silently after `connectionTimeout`.
      // Checking often, and leaving the socket a little longer, lets a slow body get its 408.
      // Node only enforces requestTimeout when headersTimeout is not longer than it.
      http: {
        connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
        requestTimeout: this.requestTimeoutMs,
        headersTimeout: this.requestTimeoutMs,
      },
      connectionTimeout: this.requestTimeoutMs + 2 * TIMEOUT_CHECK_INTERVAL_MS,
      // We answer 503 ourselves while draining (see `install`), in our format.
      return503OnClosing: false,
      clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket) {
        answer(this, error, socket);
      },
    };
  }

  /** Hooks on the running server; `registry` is where the abort counter is kept. */
  install(fastify: FastifyInstance, registry: Registry): void {
    this.aborts =
      (registry.getSingleMetric(CLIENT_ABORTS_METRIC) as Counter | undefined) ??
      new Counter({
        name: CLIENT_ABORTS_METRIC,
        help: 'Requests the client abandoned before sending all of it (e.g. a partial body, then a disconnect)',
        registers: [registry],
      });
    // Fires when the socket closes before the whole request arrived. The client is gone, so
    // there is nobody to answer; a debug line (see ApiErrorFilter) and this count are all.
    fastify.addHook('onRequestAbort', async (request) => {
      if (!this.closedByUs.has(request.raw.socket)) this.aborts?.inc();
    });
    fastify.addHook('preClose', async () => {
      this.draining = true;
    });
    // Registered before our other hooks, so a draining server does no work for a request.
    fastify.addHook('onRequest', async (_request, reply) => {
      if (!this.draining) return;
      await reply
        .code(503)
        .header('connection', 'close')
        .header('retry-after', '1')
        .send(body('SERVICE_UNAVAILABLE', 'This server is shutting down; retry the request (another instance will take it).'));
    });
  }

  private answerClientError(fastify: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
    // The client left: a reset, or its end of the connection closed mid-request (the
    // request, if it had begun, is counted by onRequestAbort). No one is there to answer.
    if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || socket.destroyed) {
      socket.destroy();
      return;
    }
    const [status, code, message] = classify(error.code, this.requestTimeoutMs);
    fastify.log.debug({ err: { code: error.code, message: error.message } }, `client error answered with ${status}`);
    // As Node does: answer only if no response has started on this socket, or the bytes
    // would land in the middle of another answer.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) {
      const payload = JSON.stringify(body(code, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(payload)}\r\n` +
          'x-should-retry: false\r\n' +
          'Connection: close\r\n\r\n' +
          payload,
      );
    }
    this.closedByUs.add(socket);
    socket.destroy();
  }
}

function classify(nodeCode: string | undefined, requestTimeoutMs: number): [number, string, string] {
  switch (nodeCode) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'REQUEST_TIMEOUT', `The request did not arrive in full within ${requestTimeoutMs} ms.`];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'HEADERS_TOO_LARGE', 'The request headers are too large.'];
    default:
      return [400, 'BAD_REQUEST', 'The request is not valid HTTP.'];
  }
}

function body(code: string, message: string): ErrorBody {
  return { code, message };
}
