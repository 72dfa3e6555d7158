import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, startChild, type ChildHandle } from './support/built-app.js';
import { RawConnection, requestHead } from './support/raw-http.js';
import { KEY_A } from './support/test-server.js';

const API = 'dist/apps/api/src/main.js';
const UPLOADS = 50;

/** A log line's level, whether pino's number or Nest's JSON logger's name. */
function levelOf(line: string): string | number | undefined {
  try {
    return (JSON.parse(line) as { level?: string | number }).level;
  } catch {
    return undefined;
  }
}

/**
 * Anyone can open a connection, send headers and part of a body, and hang up. That is
 * not our error: the built server, logging at debug (everything), must write no
 * error-level line for it, and must count it in http_client_aborts_total.
 */
describe('client aborts against the built server', () => {
  let api: ChildHandle;
  let dataDir: string;
  let port: number;

  beforeAll(async () => {
    ensureBuilt(API);
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-abort-'));
    port = 20_000 + Math.floor(Math.random() * 20_000);
    api = startChild(API, {
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      LOG_LEVEL: 'debug',
      API_KEYS: `${KEY_A}:biz_a`,
      MONGODB_URL: '',
      EVENTSTORE_URL: '',
    });
    await api.waitForOutput(/listening on/, 30_000);
  }, 120_000);
  afterAll(async () => {
    api.process.kill('SIGTERM');
    await api.exited();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const metricValue = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const match = /^http_client_aborts_total (\d+)/m.exec(text);
    if (match === null) throw new Error('http_client_aborts_total is not exported');
    return Number(match[1]);
  };

  it(`logs ${UPLOADS} aborted uploads below error level, without a stack, and counts each`, async () => {
    const before = await metricValue();
    const logBefore = api.output().length;
    const path = '/customers/cus_000000000000000000000000/wallets/ledger-entries';
    const head = requestHead('POST', path, {
      authorization: `Bearer ${KEY_A}`,
      'content-type': 'application/json',
      'content-length': 200,
    });
    const connections = await Promise.all(Array.from({ length: UPLOADS }, () => RawConnection.open(port)));
    await Promise.all(connections.map((c) => c.write(`${head}{"amount":100,"curr`)));
    // Let the server start every request and wait for the rest of its body; then hang up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const connection of connections) connection.destroy();

    const deadline = Date.now() + 10_000;
    while ((await metricValue()) < before + UPLOADS && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await metricValue()).toBe(before + UPLOADS);
    // Give any late log line the chance to appear before judging the log.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const lines = api
      .output()
      .slice(logBefore)
      .split('\n')
      .filter((line) => line.trim() !== '');
    const errors = lines.filter((line) => ['error', 'fatal', 50, 60].includes(levelOf(line) as string | number));
    expect(errors).toEqual([]);
    expect(lines.filter((line) => /Error: aborted|Something went wrong|\bat .*\.js:\d+/.test(line))).toEqual([]);
    const abortLines = lines.filter((line) => line.includes('client closed the connection before the request was complete'));
    expect(abortLines).toHaveLength(UPLOADS);
    for (const line of abortLines) expect(levelOf(line)).toBe('debug');
    // The server is still fine.
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });
});
