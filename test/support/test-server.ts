import DodoPayments from 'dodopayments';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../apps/api/src/create-app.js';
import { loadLedgerConfig, type LedgerConfig } from '#ledger';

export const KEY_A = 'sk_test_business_a_0001';
export const KEY_B = 'sk_test_business_b_0002';
export const BIZ_A = 'biz_a';
export const BIZ_B = 'biz_b';

/** Which read-model backend the HTTP suites run on: Mongo when MONGODB_URL is set (CI starts FerretDB). */
export const READ_MODEL_BACKEND = process.env.MONGODB_URL ? 'mongo' : 'sqlite';

export interface TestServer {
  readonly baseURL: string;
  readonly dataDir: string;
  readonly config: LedgerConfig;
  sdk(key?: string): DodoPayments;
  /** Raw HTTP for what the SDK will not send (malformed JSON, unknown fields, huge bodies). */
  fetch(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  close(): Promise<void>;
  /** Stops the server and keeps its data, for restart tests. */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  readonly dataDir?: string;
  readonly mongoDbName?: string;
  readonly env?: Record<string, string>;
}

/** The real stack (Nest + Fastify + stores) on a random loopback port and a temporary DATA_DIR. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ledger-e2e-'));
  const mongoDbName = options.mongoDbName ?? `ledger_e2e_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const config = loadLedgerConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    API_KEYS: `${KEY_A}:${BIZ_A},${KEY_B}:${BIZ_B}`,
    LOG_LEVEL: 'error',
    ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL, MONGODB_DB: mongoDbName } : {}),
    ...options.env,
  });
  const app: NestFastifyApplication = await createApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  const baseURL = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  return {
    baseURL,
    dataDir,
    config,
    sdk: (key = KEY_A) => new DodoPayments({ bearerToken: key, baseURL, maxRetries: 0, timeout: 30_000 }),
    fetch: (path, init = {}) => {
      const { key = KEY_A, headers, ...rest } = init;
      const auth: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
      return fetch(`${baseURL}${path}`, { ...rest, headers: { ...auth, ...(headers as Record<string, string>) } });
    },
    stop,
    close: async () => {
      await stop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function postJson(server: TestServer, path: string, body: unknown, key: string | null = KEY_A) {
  const response = await server.fetch(path, {
    method: 'POST',
    key,
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}
