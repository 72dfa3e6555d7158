import {
  ConfigError,
  DEVELOPMENT_API_KEY,
  DEVELOPMENT_BUSINESS_ID,
  loadLedgerConfig,
  type LedgerConfig,
} from './ledger-config.js';

const HOUR_MS = 3_600_000;
const KEY_A = 'sk_live_alpha_0001';
const KEY_B = 'sk_live_bravo_0002';

/** Loads a config that is expected to be rejected and returns the ConfigError. */
function rejected(env: NodeJS.ProcessEnv): ConfigError {
  let config: LedgerConfig | undefined;
  try {
    config = loadLedgerConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError, got a config: ${JSON.stringify(config)}`);
}

/** The individual problems listed in a ConfigError's message. */
function problemsOf(error: ConfigError): string[] {
  const [header, ...lines] = error.message.split('\n');
  expect(header).toBe('Invalid configuration:');
  return lines.map((line) => {
    expect(line.startsWith('  - ')).toBe(true);
    return line.slice(4);
  });
}

describe('loadLedgerConfig', () => {
  describe('defaults', () => {
    it('gives a complete development configuration from an empty environment', () => {
      expect(loadLedgerConfig({})).toEqual({
        nodeEnv: 'development',
        host: '0.0.0.0',
        port: 3000,
        dataDir: './data',
        logLevel: 'info',
        apiKeys: [{ key: DEVELOPMENT_API_KEY, businessId: DEVELOPMENT_BUSINESS_ID }],
        usingDevelopmentKey: true,
        adminApiKeys: [],
        currencies: [
          { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 },
          { code: 'INR', minorUnitDigits: 2, usdPerMajorUnit: 0.012 },
        ],
        idempotencyRetentionMs: 24 * HOUR_MS,
        eventStoreUrl: null,
        mongoUrl: null,
        mongoDbName: 'wallet_ledger',
        projectorMode: 'inprocess',
        bodyLimitBytes: 16 * 1024,
        batchEntriesMax: 1000,
        batchBodyLimitBytes: 1024 * 1024,
        readYourWritesTimeoutMs: 5000,
        commandRetriesMax: 10,
        streamCacheMax: 50_000,
        snapshotEveryEvents: 1000,
        idempotencyKeysCachedMax: 100,
        requestTimeoutMs: 15_000,
        rateLimitPerSecond: 2000,
        rateLimitBurst: 4000,
        projectorLeaseTtlMs: 10_000,
        projectorLeaseRenewMs: 3_000,
        metricsToken: null,
        metricsPort: null,
        metricsHost: '127.0.0.1',
      } satisfies LedgerConfig);
    });

    it('treats empty strings like unset variables', () => {
      const config = loadLedgerConfig({
        PORT: '',
        API_KEYS: '',
        ADMIN_API_KEYS: '',
        CURRENCIES: '',
        USD_RATES: '',
        IDEMPOTENCY_RETENTION_HOURS: '',
        EVENTSTORE_URL: '',
        MONGODB_URL: '',
        LOG_LEVEL: '',
        PROJECTOR_MODE: '',
      });
      expect(config).toEqual(loadLedgerConfig({}));
    });

    it('uses the development key outside production (e.g. NODE_ENV=test)', () => {
      const config = loadLedgerConfig({ NODE_ENV: 'test' });
      expect(config.nodeEnv).toBe('test');
      expect(config.usingDevelopmentKey).toBe(true);
      expect(config.apiKeys).toEqual([{ key: DEVELOPMENT_API_KEY, businessId: DEVELOPMENT_BUSINESS_ID }]);
    });

    it('does not use the development key once API_KEYS is given', () => {
      const config = loadLedgerConfig({ API_KEYS: `${KEY_A}:biz_a` });
      expect(config.usingDevelopmentKey).toBe(false);
      expect(config.apiKeys).toEqual([{ key: KEY_A, businessId: 'biz_a' }]);
    });

    it('reads the plain string settings', () => {
      const config = loadLedgerConfig({
        HOST: '127.0.0.1',
        DATA_DIR: '/var/lib/ledger',
        MONGODB_DB: 'ledger_test',
        LOG_LEVEL: 'debug',
        PROJECTOR_MODE: 'external',
      });
      expect(config).toMatchObject({
        host: '127.0.0.1',
        dataDir: '/var/lib/ledger',
        mongoDbName: 'ledger_test',
        logLevel: 'debug',
        projectorMode: 'external',
      });
    });
  });

  describe('production', () => {
    it('requires API_KEYS, naming the variable', () => {
      const error = rejected({ NODE_ENV: 'production' });
      expect(error.name).toBe('ConfigError');
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toContain('API_KEYS');
      expect(problemsOf(error)).toHaveLength(1);
    });

    it.each([
      ['empty', ''],
      ['only separators and spaces', ' , ,  '],
    ])('treats %s API_KEYS as missing', (_label, value) => {
      expect(rejected({ NODE_ENV: 'production', API_KEYS: value }).message).toContain('API_KEYS is required');
    });

    it('never falls back to the development key', () => {
      const config = loadLedgerConfig({ NODE_ENV: 'production', API_KEYS: `${KEY_A}:biz_a` });
      expect(config.usingDevelopmentKey).toBe(false);
      expect(config.apiKeys).toEqual([{ key: KEY_A, businessId: 'biz_a' }]);
      expect(config.apiKeys.map((k) => k.key)).not.toContain(DEVELOPMENT_API_KEY);
    });
  });

  describe('API_KEYS', () => {
    it('rejects a key with spaces, which no Bearer header could carry, without echoing it', () => {
      const error = rejected({ API_KEYS: 'sk live key1:biz_a' });
      expect(error.message).toContain('API_KEYS');
      expect(error.message).not.toContain('sk live key1');
    });

    it('parses several key:business_id pairs, trimming whitespace', () => {
      const config = loadLedgerConfig({ API_KEYS: `  ${KEY_A}:biz_a ,\t${KEY_B}:biz-B_2  , ` });
      expect(config.apiKeys).toEqual([
        { key: KEY_A, businessId: 'biz_a' },
        { key: KEY_B, businessId: 'biz-B_2' },
      ]);
    });

    it('allows two keys for the same business', () => {
      const config = loadLedgerConfig({ API_KEYS: `${KEY_A}:biz_a,${KEY_B}:biz_a` });
      expect(config.apiKeys.map((k) => k.businessId)).toEqual(['biz_a', 'biz_a']);
    });

    it('splits on the last colon, so a key may itself contain colons', () => {
      const config = loadLedgerConfig({ API_KEYS: 'sk:live:with:colons:biz_c' });
      expect(config.apiKeys).toEqual([{ key: 'sk:live:with:colons', businessId: 'biz_c' }]);
    });

    it('accepts a key of exactly 8 characters and a business id of 64', () => {
      const businessId = 'b'.repeat(64);
      const config = loadLedgerConfig({ API_KEYS: `12345678:${businessId}` });
      expect(config.apiKeys).toEqual([{ key: '12345678', businessId }]);
    });

    it.each([
      ['no separator', 'sk_live_SECRETnocolon'],
      ['an empty key', ':biz_a'],
      ['a key shorter than 8 characters', 'SECRET7:biz_a'],
      ['an empty business id', 'sk_live_SECRET_1:'],
      ['a business id with a space', 'sk_live_SECRET_1:biz a'],
      ['a business id with a dot', 'sk_live_SECRET_1:biz.a'],
      ['a business id longer than 64 characters', `sk_live_SECRET_1:${'b'.repeat(65)}`],
    ])('rejects an entry with %s without echoing the key', (_label, entry) => {
      const error = rejected({ API_KEYS: entry });
      const problems = problemsOf(error);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('API_KEYS');
      expect(problems[0]).toContain('entry #1');
      expect(error.message).not.toContain('SECRET');
    });

    it('names the malformed entry by position and never echoes any key', () => {
      const error = rejected({ API_KEYS: `${KEY_A}:biz_a, sk_live_SECRET_TOKEN_XYZ ,${KEY_B}:biz_b,tiny:biz_c` });
      const problems = problemsOf(error);
      expect(problems).toHaveLength(2);
      expect(problems[0]).toContain('entry #2');
      expect(problems[1]).toContain('entry #4');
      for (const secret of ['SECRET_TOKEN_XYZ', KEY_A, KEY_B, 'tiny']) expect(error.message).not.toContain(secret);
    });

    it('rejects a key listed twice, without echoing it', () => {
      const error = rejected({ API_KEYS: `${KEY_A}:biz_a,${KEY_A}:biz_b` });
      expect(problemsOf(error)).toEqual(['API_KEYS lists the same key twice']);
      expect(error.message).not.toContain(KEY_A);
    });

    it('rejects a key listed twice even for the same business', () => {
      expect(rejected({ API_KEYS: `${KEY_A}:biz_a, ${KEY_A}:biz_a` }).message).toContain('same key twice');
    });
  });

  describe('ADMIN_API_KEYS', () => {
    it('parses a comma-separated list, trimming whitespace', () => {
      const config = loadLedgerConfig({ API_KEYS: `${KEY_A}:biz_a`, ADMIN_API_KEYS: ' adm_key_1 , adm_key_2,, ' });
      expect(config.adminApiKeys).toEqual(['adm_key_1', 'adm_key_2']);
    });

    it('rejects an admin key that is also a business key, without echoing it', () => {
      const error = rejected({ API_KEYS: `${KEY_A}:biz_a,${KEY_B}:biz_b`, ADMIN_API_KEYS: `adm_key_1, ${KEY_B}` });
      expect(problemsOf(error)).toEqual(['ADMIN_API_KEYS must differ from API_KEYS']);
      expect(error.message).not.toContain(KEY_B);
    });

    it('rejects an admin key equal to the development key', () => {
      expect(rejected({ ADMIN_API_KEYS: DEVELOPMENT_API_KEY }).message).toContain('ADMIN_API_KEYS must differ');
    });
  });

  describe('whole-number settings', () => {
    it.each([
      ['PORT', '1', 'port', 1],
      ['PORT', '65535', 'port', 65535],
      ['PORT', '8080', 'port', 8080],
      ['BODY_LIMIT_BYTES', '1024', 'bodyLimitBytes', 1024],
      ['BODY_LIMIT_BYTES', '1048576', 'bodyLimitBytes', 1_048_576],
      ['BATCH_ENTRIES_MAX', '1', 'batchEntriesMax', 1],
      ['BATCH_ENTRIES_MAX', '10000', 'batchEntriesMax', 10_000],
      ['BATCH_BODY_LIMIT_BYTES', '1024', 'batchBodyLimitBytes', 1024],
      ['BATCH_BODY_LIMIT_BYTES', '16777216', 'batchBodyLimitBytes', 16_777_216],
      ['READ_YOUR_WRITES_TIMEOUT_MS', '0', 'readYourWritesTimeoutMs', 0],
      ['READ_YOUR_WRITES_TIMEOUT_MS', '60000', 'readYourWritesTimeoutMs', 60_000],
      ['COMMAND_RETRIES_MAX', '0', 'commandRetriesMax', 0],
      ['COMMAND_RETRIES_MAX', '100', 'commandRetriesMax', 100],
      ['STREAM_CACHE_MAX', '100', 'streamCacheMax', 100],
      ['STREAM_CACHE_MAX', '10000000', 'streamCacheMax', 10_000_000],
      ['SNAPSHOT_EVERY_EVENTS', '100', 'snapshotEveryEvents', 100],
      ['SNAPSHOT_EVERY_EVENTS', '1000000', 'snapshotEveryEvents', 1_000_000],
      ['IDEMPOTENCY_KEYS_CACHED_MAX', '1', 'idempotencyKeysCachedMax', 1],
      ['IDEMPOTENCY_KEYS_CACHED_MAX', '1000000', 'idempotencyKeysCachedMax', 1_000_000],
      ['REQUEST_TIMEOUT_MS', '1000', 'requestTimeoutMs', 1000],
      ['REQUEST_TIMEOUT_MS', '300000', 'requestTimeoutMs', 300_000],
    ] as const)('accepts %s=%s', (name, raw, field, expected) => {
      expect(loadLedgerConfig({ [name]: raw })[field]).toBe(expected);
    });

    it.each([
      ['PORT', '0'],
      ['PORT', '65536'],
      ['PORT', '-1'],
      ['PORT', '80.5'],
      ['PORT', '3e3'],
      ['PORT', '0x50'],
      ['PORT', 'abc'],
      ['PORT', ' 3000'],
      ['PORT', '99999999999999999999999'],
      ['BODY_LIMIT_BYTES', '1023'],
      ['BODY_LIMIT_BYTES', '1048577'],
      ['BATCH_ENTRIES_MAX', '0'],
      ['BATCH_ENTRIES_MAX', '10001'],
      ['BATCH_BODY_LIMIT_BYTES', '1023'],
      ['BATCH_BODY_LIMIT_BYTES', '16777217'],
      ['READ_YOUR_WRITES_TIMEOUT_MS', '60001'],
      ['COMMAND_RETRIES_MAX', '101'],
      ['STREAM_CACHE_MAX', '99'],
      ['STREAM_CACHE_MAX', '10000001'],
      ['SNAPSHOT_EVERY_EVENTS', '99'],
      ['SNAPSHOT_EVERY_EVENTS', '1000001'],
      ['IDEMPOTENCY_KEYS_CACHED_MAX', '0'],
      ['IDEMPOTENCY_KEYS_CACHED_MAX', '1000001'],
      ['REQUEST_TIMEOUT_MS', '999'],
      ['REQUEST_TIMEOUT_MS', '300001'],
    ])('rejects %s=%s, naming the variable and the value', (name, raw) => {
      const problems = problemsOf(rejected({ [name]: raw }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(name);
      expect(problems[0]).toContain(`"${raw}"`);
    });

    it('states the allowed range', () => {
      expect(problemsOf(rejected({ PORT: '70000' }))).toEqual(['PORT must be a whole number from 1 to 65535 (got "70000")']);
    });
  });

  describe('IDEMPOTENCY_RETENTION_HOURS', () => {
    it.each([
      ['24', 24],
      ['48', 48],
      ['8760', 24 * 365],
    ])('accepts %s hours', (raw, hours) => {
      expect(loadLedgerConfig({ IDEMPOTENCY_RETENTION_HOURS: raw }).idempotencyRetentionMs).toBe(hours * HOUR_MS);
    });

    it.each(['23', '1', '0', '8761', '24.5', '-24'])('rejects %s hours', (raw) => {
      const problems = problemsOf(rejected({ IDEMPOTENCY_RETENTION_HOURS: raw }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('IDEMPOTENCY_RETENTION_HOURS');
    });
  });

  describe('enumerated settings', () => {
    it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])('accepts LOG_LEVEL=%s', (level) => {
      expect(loadLedgerConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    });

    it.each([
      ['LOG_LEVEL', 'verbose'],
      ['LOG_LEVEL', 'INFO'],
      ['PROJECTOR_MODE', 'remote'],
    ])('rejects %s=%s', (name, raw) => {
      const problems = problemsOf(rejected({ [name]: raw }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(name);
      expect(problems[0]).toContain(raw);
    });
  });

  describe('CURRENCIES and USD_RATES', () => {
    it.each([['EUR:1.08:junk'], [':1.5'], ['EURO:1.1'], ['EUR']])('rejects the malformed rate entry %s', (entry) => {
      const problems = problemsOf(rejected({ CURRENCIES: 'USD,EUR', USD_RATES: entry }));
      expect(problems.some((p) => p.includes('USD_RATES'))).toBe(true);
    });

    it('keeps the listed order, upper-cases codes and drops duplicates', () => {
      const config = loadLedgerConfig({ CURRENCIES: ' inr , usd, USD, Inr ' });
      expect(config.currencies).toEqual([
        { code: 'INR', minorUnitDigits: 2, usdPerMajorUnit: 0.012 },
        { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 },
      ]);
    });

    it('takes the ISO-4217 minor unit of each currency', () => {
      const config = loadLedgerConfig({ CURRENCIES: 'USD,JPY,KWD', USD_RATES: 'JPY:0.0067,KWD:3.25' });
      expect(config.currencies).toEqual([
        { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 },
        { code: 'JPY', minorUnitDigits: 0, usdPerMajorUnit: 0.0067 },
        { code: 'KWD', minorUnitDigits: 3, usdPerMajorUnit: 3.25 },
      ]);
    });

    it('rejects a currency whose minor unit is unknown, naming it', () => {
      const problems = problemsOf(rejected({ CURRENCIES: 'USD,XYZ' }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('CURRENCIES');
      expect(problems[0]).toContain('XYZ');
    });

    it('rejects a currency without a USD rate, naming the currency and USD_RATES', () => {
      const problems = problemsOf(rejected({ CURRENCIES: 'USD,EUR' }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('USD_RATES');
      expect(problems[0]).toContain('EUR');
    });

    it('reports every currency without a rate', () => {
      const problems = problemsOf(rejected({ CURRENCIES: 'EUR,GBP,USD', USD_RATES: 'CAD:0.73' }));
      expect(problems).toHaveLength(2);
      expect(problems.join('\n')).toMatch(/EUR[\s\S]*GBP/);
    });

    it('parses USD_RATES with whitespace and lower-case codes', () => {
      const config = loadLedgerConfig({ CURRENCIES: 'EUR,GBP', USD_RATES: ' eur:1.08 ,  GBP:1.27 ' });
      expect(config.currencies).toEqual([
        { code: 'EUR', minorUnitDigits: 2, usdPerMajorUnit: 1.08 },
        { code: 'GBP', minorUnitDigits: 2, usdPerMajorUnit: 1.27 },
      ]);
    });

    it('lets USD_RATES override the built-in INR rate', () => {
      const config = loadLedgerConfig({ USD_RATES: 'INR:0.0125' });
      expect(config.currencies.find((c) => c.code === 'INR')?.usdPerMajorUnit).toBe(0.0125);
    });

    it('always values USD at 1', () => {
      const config = loadLedgerConfig({ USD_RATES: 'USD:2' });
      expect(config.currencies.find((c) => c.code === 'USD')?.usdPerMajorUnit).toBe(1);
    });

    it('ignores rates for currencies that are not configured', () => {
      expect(loadLedgerConfig({ USD_RATES: 'EUR:1.08' }).currencies.map((c) => c.code)).toEqual(['USD', 'INR']);
    });

    it.each(['1e-3', '1.0000000000000001', '0.1234567890123456', '.5'])(
      'rejects the rate %s: total_balance_usd needs a plain decimal that a double carries exactly',
      (rate) => {
        const problems = problemsOf(rejected({ CURRENCIES: 'USD,EUR', USD_RATES: `EUR:${rate}` }));
        expect(problems.some((p) => p.includes('USD_RATES') && p.includes('significant digits'))).toBe(true);
      },
    );

    it('accepts a rate with 15 significant digits', () => {
      const config = loadLedgerConfig({ CURRENCIES: 'USD,EUR', USD_RATES: 'EUR:0.000123456789012345' });
      expect(config.currencies.find((c) => c.code === 'EUR')?.usdPerMajorUnit).toBe(0.000123456789012345);
    });

    it.each(['EUR', 'EUR:', 'EUR:abc', 'EUR:0', 'EUR:-1.08', 'EUR:Infinity', 'EUR:NaN'])(
      'rejects the malformed rate entry "%s", quoting it',
      (entry) => {
        const problems = problemsOf(rejected({ CURRENCIES: 'USD', USD_RATES: entry }));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain('USD_RATES');
        expect(problems[0]).toContain(`"${entry}"`);
      },
    );
  });

  describe('store URLs', () => {
    it('accepts an EventStoreDB cluster string with several hosts', () => {
      const url = 'esdb://esdb-node1:2113,esdb-node2:2113,esdb-node3:2113?tls=false';
      expect(loadLedgerConfig({ EVENTSTORE_URL: url }).eventStoreUrl).toBe(url);
    });

    it('accepts a KurrentDB cluster string with several hosts', () => {
      const url = 'kurrentdb://node1:2113,node2:2113,node3:2113?tls=false';
      expect(loadLedgerConfig({ EVENTSTORE_URL: url }).eventStoreUrl).toBe(url);
    });

    it.each([
      ['EVENTSTORE_URL', 'kurrentdb://localhost:2113?tls=false', 'eventStoreUrl'],
      ['EVENTSTORE_URL', 'kurrentdb+discover://cluster.example.net:2113', 'eventStoreUrl'],
      ['EVENTSTORE_URL', 'esdb://localhost:2113?tls=false', 'eventStoreUrl'],
      ['EVENTSTORE_URL', 'esdb+discover://cluster.example.net:2113', 'eventStoreUrl'],
      ['MONGODB_URL', 'mongodb://localhost:27017/?replicaSet=rs0', 'mongoUrl'],
      ['MONGODB_URL', 'mongodb+srv://user:pw@cluster.example.net', 'mongoUrl'],
    ] as const)('accepts %s=%s', (name, url, field) => {
      expect(loadLedgerConfig({ [name]: url })[field]).toBe(url);
    });

    it.each([
      ['EVENTSTORE_URL', 'http://localhost:2113'],
      ['EVENTSTORE_URL', 'mongodb://localhost:27017'],
      ['EVENTSTORE_URL', 'localhost:2113'],
      ['EVENTSTORE_URL', 'not a url'],
      ['MONGODB_URL', 'postgres://localhost:5432'],
      ['MONGODB_URL', 'esdb://localhost:2113'],
      ['MONGODB_URL', 'mongodb//missing-colon'],
    ])('rejects %s=%s, naming the accepted schemes', (name, url) => {
      const problems = problemsOf(rejected({ [name]: url }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(name);
      for (const scheme of name === 'MONGODB_URL' ? ['mongodb://'] : ['kurrentdb://', 'esdb://']) expect(problems[0]).toContain(scheme);
    });

    it('does not echo a rejected URL, which may hold credentials', () => {
      const error = rejected({ MONGODB_URL: 'https://admin:hunter2@db.example.net' });
      expect(error.message).not.toContain('hunter2');
    });
  });

  describe('METRICS_TOKEN, METRICS_PORT and METRICS_HOST', () => {
    it('protects nothing by default: /metrics stays on the API port without a token', () => {
      const config = loadLedgerConfig({});
      expect([config.metricsToken, config.metricsPort, config.metricsHost]).toEqual([null, null, '127.0.0.1']);
    });

    it('reads a token, a separate port and its host', () => {
      const config = loadLedgerConfig({ METRICS_TOKEN: 'm'.repeat(16), METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' });
      expect([config.metricsToken, config.metricsPort, config.metricsHost]).toEqual(['m'.repeat(16), 9464, '0.0.0.0']);
    });

    it.each([
      [{ METRICS_TOKEN: 'short' }, /^METRICS_TOKEN must be 16/],
      [{ METRICS_TOKEN: 'has a space in it, sixteen+' }, /^METRICS_TOKEN must be 16/],
      [{ METRICS_PORT: '0' }, /^METRICS_PORT must be a whole number/],
      [{ METRICS_PORT: '3000' }, /^METRICS_PORT must differ from PORT/],
    ])('refuses %o', (env, pattern) => {
      const problems = problemsOf(rejected(env));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(pattern);
      expect(problems[0]).not.toContain('has a space');
    });
  });

  it('reports every problem together in one ConfigError', () => {
    const error = rejected({
      NODE_ENV: 'production',
      API_KEYS: 'short:biz',
      PORT: '0',
      LOG_LEVEL: 'loud',
      CURRENCIES: 'USD,XYZ,EUR',
      USD_RATES: 'bad',
      IDEMPOTENCY_RETENTION_HOURS: '1',
      EVENTSTORE_URL: 'http://localhost:2113',
      MONGODB_URL: 'postgres://localhost',
      PROJECTOR_MODE: 'sideways',
      BODY_LIMIT_BYTES: '1',
    });
    const problems = problemsOf(error);
    const expectations = [
      /API_KEYS entries must look like/,
      /API_KEYS is required when NODE_ENV=production/,
      /^PORT/,
      /^LOG_LEVEL/,
      /^CURRENCIES: XYZ/,
      /^USD_RATES entries/,
      /^USD_RATES needs a USD rate for EUR/,
      /^IDEMPOTENCY_RETENTION_HOURS/,
      /^EVENTSTORE_URL/,
      /^MONGODB_URL/,
      /^PROJECTOR_MODE/,
      /^BODY_LIMIT_BYTES/,
    ];
    for (const pattern of expectations) expect(problems.some((p) => pattern.test(p))).toBe(true);
    expect(problems).toHaveLength(expectations.length);
    expect(error.message).not.toContain('short:biz');
  });
});
