import autocannon from 'autocannon';
import type { ClientLedger } from './api-client.js';

/** One autocannon run of credit requests spread over the given customers. */
export interface LoadSpec {
  readonly title: string;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly connections: number;
  readonly durationS: number;
  readonly customerIds: readonly string[];
  /** Prefix of the idempotency keys; each request gets `<prefix>-<n>`, unique across runs. */
  readonly keyPrefix: string;
  /** Per-customer record of what was sent and acknowledged, shared across runs. */
  readonly ledgers: Map<string, ClientLedger>;
}

export interface LoadResult {
  readonly title: string;
  readonly connections: number;
  readonly durationS: number;
  readonly requestsSent: number;
  readonly responses: number;
  readonly ok2xx: number;
  /** 2xx answers per second: for the ledger, entries per second. */
  readonly okPerS: number;
  readonly non2xx: number;
  /** Connection errors, timeouts included. */
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Record<string, number>;
  /** Milliseconds, over 2xx answers (autocannon's default). */
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
    readonly mean: number;
  };
}

const REQUEST_TIMEOUT_S = 10;
/** Beyond the nominal duration, how long a run may take before it is stopped by force. */
const OVERRUN_MS = 20_000;

let sequence = 0;

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const { customerIds, ledgers, keyPrefix } = spec;
  if (customerIds.length === 0) throw new Error('runLoad needs at least one customer');
  const ledgerOf = (customerId: string): ClientLedger => {
    let ledger = ledgers.get(customerId);
    if (ledger === undefined) {
      ledger = { sentCount: 0, sentSum: 0, ackedCount: 0, ackedSum: 0 };
      ledgers.set(customerId, ledger);
    }
    return ledger;
  };

  const request: autocannon.Request = {
    method: 'POST',
    // Called for every request: a random customer, a random amount, a fresh idempotency key.
    setupRequest: (base, context) => {
      const customerId = customerIds[Math.floor(Math.random() * customerIds.length)];
      const amount = 1 + Math.floor(Math.random() * 100);
      sequence += 1;
      const ledger = ledgerOf(customerId);
      ledger.sentCount += 1;
      ledger.sentSum += amount;
      context.customerId = customerId;
      context.amount = amount;
      return {
        ...base,
        path: `/customers/${customerId}/wallets/ledger-entries`,
        body: `{"amount":${amount},"currency":"USD","entry_type":"credit","idempotency_key":"${keyPrefix}-${sequence}"}`,
      };
    },
    // One request in flight per connection (no pipelining), so the context is this answer's request.
    onResponse: (status, _body, context) => {
      if (status < 200 || status >= 300) return;
      const ledger = ledgerOf(context.customerId as string);
      ledger.ackedCount += 1;
      ledger.ackedSum += context.amount as number;
    },
  };

  return new Promise((resolve, reject) => {
    let watchdog: NodeJS.Timeout | undefined = undefined;
    const instance = autocannon(
      {
        url: spec.baseUrl,
        title: spec.title,
        connections: spec.connections,
        pipelining: 1,
        duration: spec.durationS,
        timeout: REQUEST_TIMEOUT_S,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.apiKey}` },
        requests: [request],
      },
      (error, result) => {
        clearTimeout(watchdog);
        if (error) return reject(error);
        resolve(toLoadResult(spec, result));
      },
    );
    watchdog = setTimeout(() => instance.stop(), spec.durationS * 1000 + OVERRUN_MS);
  });
}

function toLoadResult(spec: LoadSpec, result: autocannon.Result): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = Number(count);
  const duration = result.duration > 0 ? result.duration : spec.durationS;
  return {
    title: spec.title,
    connections: spec.connections,
    durationS: round(duration, 2),
    requestsSent: result.requests.sent ?? 0,
    responses: result.requests.total,
    ok2xx: result['2xx'],
    okPerS: Math.round(result['2xx'] / duration),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: round(result.latency.mean ?? result.latency.average, 2),
    },
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
