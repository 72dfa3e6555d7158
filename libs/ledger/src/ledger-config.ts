import { ISO_4217_MINOR_UNITS, type CurrencySpec, type DeciderConfig } from '#domain';

export type ProjectorMode = 'inprocess' | 'external';

export interface ApiKeyGrant {
  readonly key: string;
  readonly businessId: string;
}

export interface LedgerConfig {
  readonly nodeEnv: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  readonly apiKeys: readonly ApiKeyGrant[];
  /** True when no API_KEYS were given and a development key was made up. */
  readonly usingDevelopmentKey: boolean;
  readonly adminApiKeys: readonly string[];
  readonly currencies: readonly CurrencySpec[];
  readonly idempotencyRetentionMs: number;
  readonly eventStoreUrl: string | null;
  readonly mongoUrl: string | null;
  readonly mongoDbName: string;
  readonly projectorMode: ProjectorMode;
  readonly bodyLimitBytes: number;
  /** `POST /wallets/ledger-entries/batch`: most entries in one request, and its own body limit (the global one is small). */
  readonly batchEntriesMax: number;
  readonly batchBodyLimitBytes: number;
  readonly readYourWritesTimeoutMs: number;
  readonly commandRetriesMax: number;
  readonly streamCacheMax: number;
  /** Events stored on a stream between two snapshots of its state (a cold load folds only what follows the last one). */
  readonly snapshotEveryEvents: number;
  /** Idempotency keys each cached customer keeps in memory on the embedded store; older ones are looked up in its key index. */
  readonly idempotencyKeysCachedMax: number;
  readonly requestTimeoutMs: number;
  /** Per API key: sustained requests per second, and the burst a key may spend at once. */
  readonly rateLimitPerSecond: number;
  readonly rateLimitBurst: number;
  /** A projector holding the lease renews it every `projectorLeaseRenewMs`; a stand-by takes over after the TTL. */
  readonly projectorLeaseTtlMs: number;
  readonly projectorLeaseRenewMs: number;
  /** When set, `GET /metrics` needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | null;
  /** When set, metrics are served on their own listener (`metricsHost:metricsPort`) and not on the API port. */
  readonly metricsPort: number | null;
  readonly metricsHost: string;
}

export class ConfigError extends Error {
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const HOUR_MS = 3_600_000;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const DEVELOPMENT_API_KEY = 'sk_dev_local_only';
export const DEVELOPMENT_BUSINESS_ID = 'biz_dev';

/** Reads and validates the whole configuration at once, reporting every problem together. */
export function loadLedgerConfig(env: NodeJS.ProcessEnv): LedgerConfig {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);
  const nodeEnv = env.NODE_ENV ?? 'development';
  const apiKeys = read.apiKeys('API_KEYS');
  const usingDevelopmentKey = apiKeys.length === 0 && nodeEnv !== 'production';
  if (apiKeys.length === 0 && nodeEnv === 'production') {
    problems.push('API_KEYS is required when NODE_ENV=production (format: key:business_id,key2:business_id2)');
  }
  const config: LedgerConfig = {
    nodeEnv,
    host: env.HOST ?? '0.0.0.0',
    port: read.int('PORT', 3000, 1, 65535),
    dataDir: env.DATA_DIR ?? './data',
    logLevel: read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    apiKeys: usingDevelopmentKey ? [{ key: DEVELOPMENT_API_KEY, businessId: DEVELOPMENT_BUSINESS_ID }] : apiKeys,
    usingDevelopmentKey,
    adminApiKeys: read.list('ADMIN_API_KEYS'),
    currencies: read.currencies('CURRENCIES', 'USD_RATES'),
    idempotencyRetentionMs: read.int('IDEMPOTENCY_RETENTION_HOURS', 24, 24, 24 * 365) * HOUR_MS,
    // kurrentdb:// is the client's scheme; esdb:// (deprecated by the client) is what existing deployments hold.
    eventStoreUrl: read.url('EVENTSTORE_URL', ['kurrentdb:', 'kurrentdb+discover:', 'esdb:', 'esdb+discover:']),
    mongoUrl: read.url('MONGODB_URL', ['mongodb:', 'mongodb+srv:']),
    mongoDbName: env.MONGODB_DB ?? 'wallet_ledger',
    projectorMode: read.oneOf('PROJECTOR_MODE', 'inprocess', ['inprocess', 'external'] as const),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 16 * 1024, 1024, 1024 * 1024),
    // Bounded so one request cannot hold the event loop (decisions are synchronous) or memory for long.
    batchEntriesMax: read.int('BATCH_ENTRIES_MAX', 1000, 1, 10_000),
    batchBodyLimitBytes: read.int('BATCH_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 16 * 1024 * 1024),
    readYourWritesTimeoutMs: read.int('READ_YOUR_WRITES_TIMEOUT_MS', 5000, 0, 60_000),
    commandRetriesMax: read.int('COMMAND_RETRIES_MAX', 10, 0, 100),
    streamCacheMax: read.int('STREAM_CACHE_MAX', 50_000, 100, 10_000_000),
    // Bounded below so snapshot writes stay rare next to appends, above so a cold load folds a bounded tail.
    snapshotEveryEvents: read.int('SNAPSHOT_EVERY_EVENTS', 1000, 100, 1_000_000),
    // Per cached customer, so keys in memory are at most STREAM_CACHE_MAX × this, whatever the traffic.
    idempotencyKeysCachedMax: read.int('IDEMPOTENCY_KEYS_CACHED_MAX', 100, 1, 1_000_000),
    requestTimeoutMs: read.int('REQUEST_TIMEOUT_MS', 15_000, 1000, 300_000),
    rateLimitPerSecond: read.int('RATE_LIMIT_PER_SECOND', 2000, 1, 1_000_000),
    rateLimitBurst: read.int('RATE_LIMIT_BURST', 4000, 1, 10_000_000),
    projectorLeaseTtlMs: read.int('PROJECTOR_LEASE_TTL_MS', 10_000, 500, 600_000),
    projectorLeaseRenewMs: read.int('PROJECTOR_LEASE_RENEW_MS', 3_000, 100, 300_000),
    metricsToken: read.secret('METRICS_TOKEN'),
    metricsPort: env.METRICS_PORT === undefined || env.METRICS_PORT === '' ? null : read.int('METRICS_PORT', 0, 1, 65535),
    // Loopback by default: a separate metrics port is meant for a local scraper or sidecar.
    metricsHost: env.METRICS_HOST ?? '127.0.0.1',
  };
  if (config.metricsPort !== null && config.metricsPort === config.port) {
    problems.push('METRICS_PORT must differ from PORT');
  }
  if (config.projectorLeaseRenewMs * 2 > config.projectorLeaseTtlMs) {
    problems.push('PROJECTOR_LEASE_RENEW_MS must be at most half of PROJECTOR_LEASE_TTL_MS, so a holder renews before its lease lapses');
  }
  checkKeysDistinct(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function checkKeysDistinct(config: LedgerConfig, problems: string[]): void {
  const business = new Set(config.apiKeys.map((k) => k.key));
  if (business.size !== config.apiKeys.length) problems.push('API_KEYS lists the same key twice');
  if (config.adminApiKeys.some((k) => business.has(k))) problems.push('ADMIN_API_KEYS must differ from API_KEYS');
}

class EnvReader {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly problems: string[],
  ) {}

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  list(name: string): string[] {
    return (this.env[name] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  apiKeys(name: string): ApiKeyGrant[] {
    return this.list(name).flatMap((pair, index) => {
      const separator = pair.lastIndexOf(':');
      const key = pair.slice(0, separator);
      const businessId = pair.slice(separator + 1);
      // Keys travel in a Bearer header, so they are printable ASCII without spaces.
      if (separator <= 0 || !/^[A-Za-z0-9_-]{1,64}$/.test(businessId) || !/^[\x21-\x7e]{8,256}$/.test(key)) {
        this.problems.push(`${name} entries must look like key:business_id with a key of 8+ characters (entry #${index + 1} is malformed; keys are not echoed)`);
        return [];
      }
      return [{ key, businessId }];
    });
  }

  /** A bearer secret: unset is null; set, it must be a usable header value of 16..256 characters. */
  secret(name: string): string | null {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return null;
    if (!/^[\x21-\x7e]{16,256}$/.test(raw)) {
      this.problems.push(`${name} must be 16 to 256 printable ASCII characters without spaces (not echoed)`);
      return null;
    }
    return raw;
  }

  url(name: string, protocols: readonly string[]): string | null {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return null;
    // Cluster strings list several hosts (`esdb://a:2113,b:2113,c:2113?tls=false`), which URL() refuses.
    const scheme = /^([a-z+]+:)\/\/[^\s/?#]+(?:[/?#]\S*)?$/.exec(raw);
    if (scheme !== null && protocols.includes(scheme[1]) && raw.includes(',')) return raw;
    try {
      if (protocols.includes(new URL(raw).protocol)) return raw;
    } catch {
      // fall through to the message below
    }
    this.problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    return null;
  }

  currencies(name: string, ratesName: string): CurrencySpec[] {
    const codes = this.list(name).map((c) => c.toUpperCase());
    const chosen = codes.length > 0 ? codes : ['USD', 'INR'];
    const rates = this.rates(ratesName);
    const specs: CurrencySpec[] = [];
    for (const code of new Set(chosen)) {
      const digits = ISO_4217_MINOR_UNITS[code];
      if (digits === undefined) {
        this.problems.push(`${name}: ${code} is not a currency this ledger knows the ISO-4217 minor unit of`);
        continue;
      }
      const rate = code === 'USD' ? 1 : rates.get(code) ?? DEFAULT_USD_RATES[code];
      if (rate === undefined) {
        this.problems.push(`${ratesName} needs a USD rate for ${code} (e.g. ${code}:1.08)`);
        continue;
      }
      specs.push({ code, minorUnitDigits: digits, usdPerMajorUnit: rate });
    }
    return specs;
  }

  private rates(name: string): Map<string, number> {
    const rates = new Map<string, number>();
    for (const pair of this.list(name)) {
      const [code, raw, ...rest] = pair.split(':');
      const rate = Number(raw);
      if (!/^[A-Za-z]{3}$/.test(code) || rest.length > 0 || raw === undefined || !Number.isFinite(rate) || rate <= 0) {
        this.problems.push(`${name} entries must look like CODE:rate with a positive rate (got "${pair}")`);
        continue;
      }
      // total_balance_usd converts with the decimal as written; a plain decimal of at most 15
      // significant digits survives the trip through a double unchanged, so it is exact.
      if (!/^\d+(\.\d+)?$/.test(raw) || raw.replace('.', '').replace(/^0+/, '').length > RATE_SIGNIFICANT_DIGITS_MAX) {
        this.problems.push(`${name}: the rate for ${code} must be a plain decimal with at most ${RATE_SIGNIFICANT_DIGITS_MAX} significant digits (got "${raw}")`);
        continue;
      }
      rates.set(code.toUpperCase(), rate);
    }
    return rates;
  }
}

const RATE_SIGNIFICANT_DIGITS_MAX = 15;

/** Conservative defaults so the stock currency set works out of the box; override with USD_RATES. */
const DEFAULT_USD_RATES: Readonly<Record<string, number>> = { INR: 0.012 };

/** The decider's configuration, as every process that decides (the API, `ledger import`) builds it. */
export function deciderConfigOf(config: LedgerConfig): DeciderConfig {
  return { currencies: new Map(config.currencies.map((c) => [c.code, c])), idempotencyRetentionMs: config.idempotencyRetentionMs };
}
