// Crash test: drives concurrent credits and debits against the built API, SIGKILLs it at random
// moments, restarts it on the same DATA_DIR, resends every request whose outcome was unknown (same
// idempotency key, same payload) and finally checks that no acknowledged money was lost or doubled.
//
// Run with `npm run test:faults` (builds first). Plain ESM JavaScript so Node 20 runs it directly.
// Everything is bounded: request counts, retries, timeouts and a global deadline. Loopback only.
//
// Tunables (env): FAULTS_CYCLES (5), FAULTS_CUSTOMERS (20), FAULTS_CONCURRENCY (32),
// FAULTS_SEED (random), FAULTS_DEADLINE_MS (140000), FAULTS_KEEP_DATA=1 (keep the temp DATA_DIR),
// FAULTS_BATCH_WORKERS (a quarter of the concurrency): workers that send their entries through
// POST /wallets/ledger-entries/batch instead, and resend a lost batch's entries as one batch again.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js');
const API_KEY = 'sk_fault_test_0001';
const BUSINESS_ID = 'biz_fault';
const HOST = '127.0.0.1';

const CYCLES = intEnv('FAULTS_CYCLES', 5, 1, 50);
const CUSTOMERS = intEnv('FAULTS_CUSTOMERS', 20, 1, 200);
const CONCURRENCY = intEnv('FAULTS_CONCURRENCY', 32, 1, 256);
const DEADLINE_MS = intEnv('FAULTS_DEADLINE_MS', 140_000, 10_000, 1_800_000);
const SEED = intEnv('FAULTS_SEED', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31);
const BATCH_WORKERS = intEnv('FAULTS_BATCH_WORKERS', Math.ceil(CONCURRENCY / 4), 0, CONCURRENCY);
/** Entries per batch: with 20 customers, most batches carry several entries of one customer (array order matters). */
const BATCH_ENTRIES_MIN = 2;
const BATCH_ENTRIES_MAX = 40;

const CURRENCIES = ['USD', 'INR'];
const AMOUNT_MAX = 500;
const CREDIT_PROBABILITY = 0.55;
const KILL_AFTER_MIN_MS = 150;
const KILL_AFTER_MAX_MS = 900;
/** Most new requests one cycle may issue (the kill normally stops the load much earlier). */
const REQUESTS_PER_CYCLE_MAX = 5000;
/** Longest a single request may take before we call it a hang (server-side REQUEST_TIMEOUT_MS is 15 s). */
const REQUEST_TIMEOUT_MS = 20_000;
const STARTUP_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 15_000;
const RESEND_ATTEMPTS_MAX = 8;
/** Bound on waiting for the read models to follow writes again after a restart. */
const PROJECTOR_READY_TIMEOUT_MS = 25_000;
/** A write slower than this was answered after the read-your-writes wait timed out (default 5 s). */
const SLOW_WRITE_MS = 4_000;
const FINAL_REPLAY_SAMPLE = 400;
const HISTORY_PAGES_MAX = 1000;

// ---------------------------------------------------------------------------------------------
// Small utilities

function intEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in ${min}..${max}`);
  return value;
}

/** mulberry32: a seeded PRNG, so FAULTS_SEED repeats the same choices (kill timing still varies with the machine). */
function makeRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = makeRandom(SEED);
const randInt = (min, max) => min + Math.floor(random() * (max - min + 1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const startedAt = Date.now();
const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
const log = (...args) => console.log(`[faults ${elapsed()}]`, ...args);

function deadlineLeft() {
  return startedAt + DEADLINE_MS - Date.now();
}
function checkDeadline(what) {
  if (deadlineLeft() <= 0) throw new Error(`global deadline of ${DEADLINE_MS} ms exceeded (${what})`);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Problems: everything that makes the run fail, printed with details before the summary.

/** @type {{kind: 'lost'|'doubled'|'mismatch', message: string}[]} */
const problems = [];
/** @type {string[]} */
const warnings = [];
function problem(kind, message) {
  problems.push({ kind, message });
  console.log(`PROBLEM [${kind}] ${message}`);
}
function warn(message) {
  warnings.push(message);
  console.log(`WARN ${message}`);
}

// ---------------------------------------------------------------------------------------------
// The server child process

const dataDir = mkdtempSync(join(tmpdir(), 'ledger-faults-'));
const serverLogPath = join(dataDir, 'server.log');
const serverLog = createWriteStream(serverLogPath, { flags: 'a' });
/** @type {import('node:child_process').ChildProcess | null} */
let child = null;
let childExited = Promise.resolve();
let baseURL = '';
let serverGeneration = 0;
let serverErrorLines = 0;
/** Set while we kill or stop the server ourselves; any other exit is a crash of its own. */
let expectingExit = false;
let unexpectedExits = 0;
const UNEXPECTED_EXITS_MAX = 3;
/** Signals a server only gets from outside (a person or another tool), never from a crash of its own. */
const EXTERNAL_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL'];
/** Exit 0 unasked is the server's graceful answer to SIGTERM/SIGINT; a crash exits non-zero or by SIGSEGV/SIGABRT. */
function isExternalStop(code, signal) {
  return code === 0 || (signal !== null && EXTERNAL_SIGNALS.includes(signal));
}
/** @type {number[]} */
const startupTimes = [];

async function startServer() {
  checkDeadline('starting the server');
  const port = await freePort();
  serverGeneration += 1;
  const generation = serverGeneration;
  serverLog.write(`\n===== server start #${generation} on port ${port} =====\n`);
  const proc = spawn(process.execPath, [ENTRY], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      PORT: String(port),
      HOST,
      DATA_DIR: dataDir,
      API_KEYS: `${API_KEY}:${BUSINESS_ID}`,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      // The load comes from one key; the harness tests crashes, not the rate limiter.
      RATE_LIMIT_PER_SECOND: '1000000',
      RATE_LIMIT_BURST: '1000000',
      // The smallest interval: each customer gets a few hundred events a run, so restarts load
      // from snapshots (some written just before a SIGKILL) and fold the tail after them.
      SNAPSHOT_EVERY_EVENTS: '100',
      // Few keys in memory: most resends of unknown outcomes are answered through the key index.
      IDEMPOTENCY_KEYS_CACHED_MAX: '5',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let exited = false;
  /** @type {number|null} */ let exitCode = null;
  /** @type {string|null} */ let exitSignal = null;
  childExited = new Promise((r) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      if (child === proc) child = null;
      if (!expectingExit) {
        unexpectedExits += 1;
        // In CI nothing else signals the server, so a stop we did not cause (SIGKILL is also how the
        // out-of-memory killer ends a process) is a failure there; elsewhere it is tolerated.
        if (isExternalStop(code, signal) && process.env.CI !== 'true') {
          // Not a crash of the server: something else on this machine signalled it (exit 0 is the
          // server's own graceful SIGTERM/SIGINT handling). One more crash or stop for the ledger to
          // survive; every check below still applies.
          warn(`server #${generation} (pid ${proc.pid}) was stopped from outside this test (code ${code}, signal ${signal}); restarting it`);
        } else {
          problem('mismatch', `server #${generation} (pid ${proc.pid}) exited on its own: code ${code}, signal ${signal}; its output is in the log tail below`);
          printLogTail(20);
        }
      }
      r();
    }),
  );
  const onOutput = (chunk) => {
    const text = chunk.toString();
    serverLog.write(text);
    for (const line of text.split('\n')) if (/\bERROR\b/.test(line)) serverErrorLines += 1;
  };
  proc.stdout.on('data', onOutput);
  proc.stderr.on('data', onOutput);

  baseURL = `http://${HOST}:${port}`;
  expectingExit = false;
  const t0 = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    if (exited) {
      if (isExternalStop(exitCode, exitSignal) && unexpectedExits <= UNEXPECTED_EXITS_MAX) return startServer();
      throw new Error(`server #${generation} exited during start-up (code ${exitCode}, signal ${exitSignal}); see log below`);
    }
    if (Date.now() - t0 > STARTUP_TIMEOUT_MS) throw new Error(`server #${generation} did not answer GET /health within ${STARTUP_TIMEOUT_MS} ms`);
    try {
      const res = await fetch(`${baseURL}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(Math.min(50 + attempt * 10, 200));
  }
  const took = Date.now() - t0;
  startupTimes.push(took);
  log(`server #${generation} up on :${port} in ${took} ms (pid ${proc.pid})`);
}

async function waitExit(timeoutMs) {
  let timer;
  const timedOut = new Promise((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const result = await Promise.race([childExited.then(() => 'exited'), timedOut]);
  clearTimeout(timer);
  return result;
}

async function killServer() {
  const proc = child;
  if (proc === null) return;
  expectingExit = true;
  proc.kill('SIGKILL');
  if ((await waitExit(EXIT_TIMEOUT_MS)) === 'timeout') throw new Error(`server pid ${proc.pid} did not exit after SIGKILL`);
}

/** @type {Promise<void> | null} */
let restarting = null;
/** Restarts a server that died on its own (already reported as a problem), a bounded number of times. */
async function ensureServer() {
  if (child !== null) return;
  if (restarting === null) {
    if (unexpectedExits > UNEXPECTED_EXITS_MAX) throw new Error(`the server died on its own ${unexpectedExits} times; giving up`);
    restarting = startServer().finally(() => (restarting = null));
  }
  await restarting;
}

function printLogTail(lines) {
  try {
    const text = readFileSync(serverLogPath, 'utf8');
    console.log(`--- last server output ---\n${text.split('\n').slice(-lines).join('\n')}\n--- end of server output ---`);
  } catch {
    // no log yet
  }
}

/** Graceful stop (SIGTERM: Nest shutdown hooks close the stores and release the projection lease). */
async function stopServer() {
  const proc = child;
  if (proc === null) return;
  const t0 = Date.now();
  expectingExit = true;
  proc.kill('SIGTERM');
  if ((await waitExit(EXIT_TIMEOUT_MS)) === 'timeout') {
    problem('mismatch', `server pid ${proc.pid} did not exit within ${EXIT_TIMEOUT_MS} ms of SIGTERM (hang on shutdown); killing it`);
    await killServer();
  } else {
    log(`server stopped with SIGTERM in ${Date.now() - t0} ms`);
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup: the child never outlives us, and the temp DATA_DIR goes away.

let cleanedUp = false;
function cleanupSync() {
  if (cleanedUp) return;
  cleanedUp = true;
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  if (process.env.FAULTS_KEEP_DATA === '1') {
    console.log(`DATA_DIR kept at ${dataDir}`);
    return;
  }
  try {
    serverLog.end();
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    console.error(`could not remove ${dataDir}: ${error}`);
  }
}
process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`crash test interrupted by ${signal}`);
    cleanupSync();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  console.error('uncaught exception:', error);
  cleanupSync();
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  console.error('unhandled rejection:', error);
  cleanupSync();
  process.exit(1);
});

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * @typedef {{ kind: 'ok', status: number, body: any, ms: number }
 *   | { kind: 'http', status: number, body: any, ms: number }
 *   | { kind: 'network', error: string, ms: number, timedOut: boolean }} HttpResult
 */

/** @returns {Promise<HttpResult>} */
async function http(method, path, body) {
  const t0 = Date.now();
  try {
    const res = await fetch(`${baseURL}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      parsed = { unparsable: text.slice(0, 200) };
    }
    const ms = Date.now() - t0;
    return res.ok ? { kind: 'ok', status: res.status, body: parsed, ms } : { kind: 'http', status: res.status, body: parsed, ms };
  } catch (error) {
    const e = /** @type {any} */ (error);
    const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError';
    const cause = e?.cause?.code ?? e?.cause?.message ?? '';
    return { kind: 'network', error: `${e?.name ?? 'Error'}: ${e?.message ?? e}${cause ? ` (${cause})` : ''}`, ms: Date.now() - t0, timedOut };
  }
}

// ---------------------------------------------------------------------------------------------
// The model of what we sent

/**
 * @typedef {{
 *   key: string, customer: number, customerId: string, currency: string,
 *   entryType: 'credit'|'debit', amount: number, cycle: number,
 *   status: 'new'|'unknown'|'success'|'refused'|'broken',
 *   via: 'ack'|'resend'|null, balance: number|null, attempts: number, notes: string[],
 *   batch: Req[] | null
 * }} Req
 */

/** @type {string[]} */
const customerIds = [];
/** @type {Req[]} */
const requests = [];
/** @type {Map<string, Req>} */
const byKey = new Map();
const stats = { batches: 0, sent: 0, ack: 0, refused: 0, unknown: 0, resends: 0, resolvedSuccess: 0, resolvedRefused: 0, server5xx: 0, slowWrites: 0 };

function newRequest(cycle, overrides = {}) {
  const customer = overrides.customer ?? randInt(0, customerIds.length - 1);
  const entryType = overrides.entryType ?? (random() < CREDIT_PROBABILITY ? 'credit' : 'debit');
  /** @type {Req} */
  const req = {
    key: `${overrides.prefix ?? 'ft'}-c${cycle}-${requests.length}-${Math.floor(random() * 1e9).toString(36)}`,
    customer,
    customerId: customerIds[customer],
    currency: overrides.currency ?? CURRENCIES[randInt(0, CURRENCIES.length - 1)],
    entryType,
    amount: overrides.amount ?? randInt(1, AMOUNT_MAX),
    cycle,
    status: 'new',
    via: null,
    balance: null,
    attempts: 0,
    notes: [],
    batch: null,
  };
  requests.push(req);
  byKey.set(req.key, req);
  return req;
}

function payloadOf(req) {
  return { amount: req.amount, currency: req.currency, entry_type: req.entryType, idempotency_key: req.key, reason: req.key };
}

function describe(req) {
  return `${req.key} (${req.entryType} ${req.amount} ${req.currency} on customer #${req.customer} ${req.customerId})`;
}

/**
 * Sends (or resends) one request and folds the answer into its status.
 * @param {Req} req @param {boolean} isResend
 * @returns {Promise<'final'|'retry'>}
 */
async function send(req, isResend) {
  req.attempts += 1;
  stats.sent += 1;
  if (isResend) stats.resends += 1;
  const generation = serverGeneration;
  const r = await http('POST', `/customers/${req.customerId}/wallets/ledger-entries`, payloadOf(req));
  return fold(req, isResend, generation, r);
}

/**
 * Sends (or resends) entries as one batch. Each entry's result is folded exactly like the answer
 * of a single request (its `status` is what the single route would have said); no answer at all
 * leaves every entry of the batch unknown.
 * @param {Req[]} reqs @param {boolean} isResend
 */
async function sendBatch(reqs, isResend) {
  for (const req of reqs) {
    req.attempts += 1;
    stats.sent += 1;
    if (isResend) stats.resends += 1;
  }
  stats.batches += 1;
  const generation = serverGeneration;
  const r = await http('POST', '/wallets/ledger-entries/batch', { entries: reqs.map((req) => ({ customer_id: req.customerId, ...payloadOf(req) })) });
  const results = r.kind === 'ok' ? r.body?.results : undefined;
  if (r.kind === 'ok' && (!Array.isArray(results) || results.length !== reqs.length || results.some((x, i) => x?.index !== i))) {
    problem('mismatch', `batch of ${reqs.length} (${reqs[0].key}…): 200 without one result per entry in order: ${JSON.stringify(r.body).slice(0, 300)}`);
    for (const req of reqs) req.status = 'broken';
    return;
  }
  reqs.forEach((req, i) => {
    /** @type {HttpResult} */
    const one = r.kind !== 'ok' ? r : results[i].status === 200
      ? { kind: 'ok', status: 200, body: results[i].wallet, ms: r.ms }
      : { kind: 'http', status: results[i].status, body: results[i].error, ms: r.ms };
    fold(req, isResend, generation, one);
  });
}

/** @param {Req} req @param {boolean} isResend @param {number} generation @param {HttpResult} r @returns {'final'|'retry'} */
function fold(req, isResend, generation, r) {
  if (r.kind === 'ok') {
    const w = r.body;
    if (w === null || typeof w.balance !== 'number' || w.currency !== req.currency || w.customer_id !== req.customerId) {
      problem('mismatch', `${describe(req)}: 2xx with an unexpected wallet body ${JSON.stringify(w)}`);
    } else if (w.balance < 0) {
      problem('mismatch', `${describe(req)}: returned a negative balance ${w.balance}`);
    }
    if (r.ms > SLOW_WRITE_MS) stats.slowWrites += 1;
    req.status = 'success';
    req.via = isResend ? 'resend' : 'ack';
    req.balance = w?.balance ?? null;
    if (isResend) stats.resolvedSuccess += 1;
    else stats.ack += 1;
    return 'final';
  }
  if (r.kind === 'http') {
    const code = r.body?.code;
    if (r.status === 400 && code === 'WALLET.INSUFFICIENT_BALANCE') {
      if (req.entryType !== 'debit') problem('mismatch', `${describe(req)}: a credit was refused for insufficient balance`);
      req.status = 'refused';
      if (isResend) stats.resolvedRefused += 1;
      else stats.refused += 1;
      return 'final';
    }
    if (r.status >= 500) {
      stats.server5xx += 1;
      req.notes.push(`HTTP ${r.status} ${code} on server #${generation}`);
      problem('mismatch', `${describe(req)}: HTTP ${r.status} ${JSON.stringify(r.body)} from server #${generation} (attempt ${req.attempts})`);
      req.status = 'unknown';
      return 'retry';
    }
    if (r.status === 422 && code === 'IDEMPOTENCY_KEY_REUSED') {
      problem('mismatch', `${describe(req)}: ${isResend ? 'resend' : 'first send'} with the SAME payload answered 422 IDEMPOTENCY_KEY_REUSED: ${JSON.stringify(r.body)}`);
    } else {
      problem('mismatch', `${describe(req)}: unexpected HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
    req.status = 'broken';
    req.notes.push(`HTTP ${r.status} ${code}`);
    return 'final';
  }
  // No answer: the server died, refused the connection, or hung.
  if (r.timedOut && child !== null && serverGeneration === generation) {
    problem('mismatch', `${describe(req)}: no answer within ${REQUEST_TIMEOUT_MS} ms from a live server #${generation} (hang)`);
  }
  req.notes.push(`no answer on server #${generation}: ${r.error}`);
  if (req.status !== 'unknown') {
    req.status = 'unknown';
    if (!isResend) stats.unknown += 1;
  }
  return 'retry';
}

// ---------------------------------------------------------------------------------------------
// Phases

async function createCustomers() {
  for (let i = 0; i < CUSTOMERS; i += 1) {
    const r = await http('POST', '/customers', { email: `fault${i}@example.com`, name: `Fault ${i}` });
    if (r.kind !== 'ok' || typeof r.body?.customer_id !== 'string') throw new Error(`creating customer ${i} failed: ${JSON.stringify(r)}`);
    customerIds.push(r.body.customer_id);
  }
  log(`created ${customerIds.length} customers`);
}

/** Fresh load until the kill (or the count bound), then SIGKILL. Returns how many requests went out. */
async function loadAndKill(cycle) {
  const killAfter = randInt(KILL_AFTER_MIN_MS, KILL_AFTER_MAX_MS);
  let stop = false;
  let issued = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (!stop && issued < REQUESTS_PER_CYCLE_MAX && Date.now() - t0 < killAfter + 2000) {
      issued += 1;
      const req = newRequest(cycle);
      await send(req, false);
    }
  };
  const batchWorker = async () => {
    while (!stop && issued < REQUESTS_PER_CYCLE_MAX && Date.now() - t0 < killAfter + 2000) {
      const reqs = Array.from({ length: randInt(BATCH_ENTRIES_MIN, BATCH_ENTRIES_MAX) }, () => newRequest(cycle, { prefix: 'fb' }));
      for (const req of reqs) req.batch = reqs;
      issued += reqs.length;
      await sendBatch(reqs, false);
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, (_, i) => (i < BATCH_WORKERS ? batchWorker() : worker()));
  await sleep(killAfter);
  stop = true;
  const pid = child?.pid;
  if (child === null) log(`cycle ${cycle}: the server was already dead at the planned kill time`);
  await killServer();
  log(`cycle ${cycle}: SIGKILLed server pid ${pid} after ${killAfter} ms of load (${issued} requests issued)`);
  await Promise.all(workers);
  return issued;
}

/** Resends every request whose outcome is unknown until each gets a definite answer (bounded). */
async function resolveUnknowns(label) {
  const pending = requests.filter((r) => r.status === 'unknown');
  if (pending.length === 0) return;
  const t0 = Date.now();
  let next = 0;
  let maxMs = 0;
  // A lost batch is resent as the same batch (its still-unknown entries, in their order, same keys).
  /** @type {Array<Req | Req[]>} */
  const work = [];
  const batchesSeen = new Set();
  for (const req of pending) {
    if (req.batch === null) work.push(req);
    else if (!batchesSeen.has(req.batch)) {
      batchesSeen.add(req.batch);
      work.push(req.batch);
    }
  }
  const worker = async () => {
    while (next < work.length) {
      const item = work[next++];
      for (let attempt = 0; attempt < RESEND_ATTEMPTS_MAX && deadlineLeft() > 0; attempt += 1) {
        await ensureServer();
        const a = Date.now();
        let outcome;
        if (Array.isArray(item)) {
          const unknown = item.filter((r) => r.status === 'unknown');
          if (unknown.length > 0) await sendBatch(unknown, true);
          outcome = item.some((r) => r.status === 'unknown') ? 'retry' : 'final';
        } else {
          outcome = await send(item, true);
        }
        maxMs = Math.max(maxMs, Date.now() - a);
        if (outcome === 'final') break;
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, work.length) }, () => worker()));
  const left = pending.filter((r) => r.status === 'unknown');
  const ok = pending.filter((r) => r.status === 'success').length;
  const no = pending.filter((r) => r.status === 'refused').length;
  log(`${label}: resent ${pending.length} unknown requests in ${Date.now() - t0} ms (slowest ${maxMs} ms): ${ok} success, ${no} refused, ${left.length} still unknown`);
  for (const req of left) problem('mismatch', `${describe(req)}: no definite answer after ${req.attempts} attempts: ${req.notes.slice(-3).join(' | ')}`);
  if (maxMs > SLOW_WRITE_MS) {
    warn(`${label}: a resend took ${maxMs} ms: the write was held for the full read-your-writes wait (projector not running yet after the restart?)`);
  }
}

/**
 * Read-your-writes probe: a small tracked credit, then a read that must show it. Repeats (bounded)
 * until the write is fast and visible, i.e. the read models follow the event store again.
 */
async function waitProjectorReady(label) {
  const t0 = Date.now();
  let violations = 0;
  for (let n = 0; Date.now() - t0 < PROJECTOR_READY_TIMEOUT_MS && deadlineLeft() > 0; n += 1) {
    await ensureServer();
    const req = newRequest(0, { customer: 0, currency: 'USD', entryType: 'credit', amount: 1, prefix: 'probe' });
    const p0 = Date.now();
    for (let attempt = 0; attempt < RESEND_ATTEMPTS_MAX; attempt += 1) {
      if ((await send(req, attempt > 0)) === 'final') break;
      await sleep(200);
      await ensureServer();
    }
    if (req.status !== 'success') throw new Error(`${label}: probe write ${req.key} got no success: ${req.notes.join(' | ')}`);
    const writeMs = Date.now() - p0;
    // Read it back right away; if it is not there, keep looking for a short while to tell
    // "read models lag behind acknowledged writes" from "read models stopped".
    const a0 = Date.now();
    for (let look = 0; look < 20; look += 1) {
      const r = await http('GET', `/customers/${req.customerId}/wallets/ledger-entries?page_number=0&page_size=1&currency=USD`);
      const newest = r.kind === 'ok' ? r.body?.items?.[0] : undefined;
      if (newest?.reason === req.key) {
        if (look > 0) {
          violations += 1;
          warn(`${label}: read-your-writes violated: probe ${req.key} was acknowledged (write took ${writeMs} ms) but showed up in GET ledger-entries only ${Date.now() - a0} ms later`);
        }
        if (look === 0 && writeMs <= SLOW_WRITE_MS) {
          if (violations > 0) warn(`${label}: read models followed writes again ${Date.now() - t0} ms after probing began`);
          return;
        }
        break;
      }
      if (look === 0) {
        violations += 1;
        warn(`${label}: read-your-writes violated: probe ${req.key} was acknowledged (write took ${writeMs} ms, balance ${req.balance}) but GET ledger-entries right after shows newest reason=${newest?.reason ?? '(none)'}`);
      }
      await sleep(100);
    }
    if (violations > 5 && Date.now() - t0 > 5000) {
      // Writes are visible only after a delay every time: readiness will not get better; go on.
      warn(`${label}: read models keep lagging behind acknowledged writes; continuing without read-your-writes`);
      await sleep(2000);
      return;
    }
    await sleep(300);
  }
  throw new Error(`${label}: read models did not show new writes within ${PROJECTOR_READY_TIMEOUT_MS} ms`);
}

/** One probe write and read right after a crash restart; a stale read is reported as a warning. */
async function readYourWritesProbe(label) {
  await ensureServer();
  const req = newRequest(0, { customer: 0, currency: 'INR', entryType: 'credit', amount: 1, prefix: 'ryw' });
  const p0 = Date.now();
  for (let attempt = 0; attempt < RESEND_ATTEMPTS_MAX; attempt += 1) {
    if ((await send(req, attempt > 0)) === 'final') break;
    await sleep(200);
  }
  const writeMs = Date.now() - p0;
  if (req.status !== 'success') throw new Error(`${label}: read-your-writes probe ${req.key} got no success: ${req.notes.join(' | ')}`);
  const r = await http('GET', `/customers/${req.customerId}/wallets/ledger-entries?page_number=0&page_size=1&currency=INR`);
  const newest = r.kind === 'ok' ? r.body?.items?.[0] : undefined;
  const w = await http('GET', `/customers/${req.customerId}/wallets`);
  const walletBalance = w.kind === 'ok' ? w.body?.items?.find((x) => x.currency === 'INR')?.balance : undefined;
  if (newest?.reason !== req.key || walletBalance !== req.balance) {
    problem(
      'mismatch',
      `${label}: read-your-writes violated right after the crash restart: POST ${req.key} answered 200 (balance ${req.balance}) after ${writeMs} ms, ` +
        `then GET ledger-entries shows newest reason=${newest?.reason ?? '(none)'} and GET wallets shows INR balance ${walletBalance}`,
    );
  } else {
    log(`${label}: read-your-writes held right after the crash restart (probe write took ${writeMs} ms)`);
  }
}

async function finalReplays() {
  const successes = requests.filter((r) => r.status === 'success');
  await ensureServer();
  const sample = successes.filter((r) => r.via === 'resend');
  const acked = successes.filter((r) => r.via === 'ack');
  for (let i = 0; i < FINAL_REPLAY_SAMPLE && acked.length > 0; i += 1) sample.push(acked.splice(randInt(0, acked.length - 1), 1)[0]);
  let next = 0;
  let differing = 0;
  const worker = async () => {
    while (next < sample.length) {
      const req = sample[next++];
      const r = await http('POST', `/customers/${req.customerId}/wallets/ledger-entries`, payloadOf(req));
      if (r.kind === 'ok') {
        if (r.body?.balance !== req.balance) {
          differing += 1;
          problem('mismatch', `${describe(req)}: replay after restarts returned balance ${r.body?.balance}, the original answer was ${req.balance}`);
        }
      } else if (r.kind === 'http') {
        problem('mismatch', `${describe(req)}: replay of a successful request after restarts answered HTTP ${r.status} ${JSON.stringify(r.body)}`);
      } else {
        problem('mismatch', `${describe(req)}: replay after restarts got no answer: ${r.error}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, sample.length) }, () => worker()));
  log(`replayed ${sample.length} successful requests after the final restart (${differing} answered a different wallet)`);
}

// ---------------------------------------------------------------------------------------------
// Verification

async function fetchHistory(customerId) {
  /** @type {any[]} */
  const items = [];
  for (let page = 0; page < HISTORY_PAGES_MAX; page += 1) {
    const r = await http('GET', `/customers/${customerId}/wallets/ledger-entries?page_number=${page}&page_size=100`);
    if (r.kind !== 'ok') throw new Error(`GET ledger-entries page ${page} of ${customerId} failed: ${JSON.stringify(r)}`);
    const got = r.body?.items;
    if (!Array.isArray(got)) throw new Error(`GET ledger-entries of ${customerId}: no items array`);
    if (got.length === 0) return items;
    items.push(...got);
    if (got.length > 100) throw new Error(`GET ledger-entries returned ${got.length} items for page_size=100`);
  }
  throw new Error(`history of ${customerId} has more than ${HISTORY_PAGES_MAX} pages`);
}

async function verify() {
  const counts = { lost: 0, doubled: 0, mismatches: 0 };
  const mismatch = (message) => {
    counts.mismatches += 1;
    problem('mismatch', message);
  };
  const entryIds = new Set();
  for (let c = 0; c < customerIds.length; c += 1) {
    const customerId = customerIds[c];
    const history = await fetchHistory(customerId); // newest first
    const walletsRes = await http('GET', `/customers/${customerId}/wallets`);
    if (walletsRes.kind !== 'ok') throw new Error(`GET wallets of ${customerId} failed: ${JSON.stringify(walletsRes)}`);
    /** @type {Map<string, number>} */
    const walletBalance = new Map((walletsRes.body?.items ?? []).map((w) => [w.currency, w.balance]));

    /** @type {Map<string, any[]>} */
    const entriesByKey = new Map();
    for (const e of history) {
      if (entryIds.has(e.id)) mismatch(`entry id ${e.id} appears more than once in the histories`);
      entryIds.add(e.id);
      const list = entriesByKey.get(e.reason) ?? [];
      list.push(e);
      entriesByKey.set(e.reason, list);
    }
    // Entries against requests.
    for (const [key, list] of entriesByKey) {
      const req = byKey.get(key);
      if (req === undefined || req.customer !== c) {
        mismatch(`customer #${c} ${customerId}: ${list.length} entr(y/ies) with reason ${JSON.stringify(key)} that match no request we sent to this customer: ${JSON.stringify(list[0])}`);
        continue;
      }
      if (list.length > 1) {
        counts.doubled += 1;
        problem('doubled', `${describe(req)}: ${list.length} entries carry this idempotency key: ${list.map((e) => `${e.id}@${e.created_at}`).join(', ')}`);
      }
      if (req.status === 'refused') mismatch(`${describe(req)}: was refused (${req.via ?? 'first send'}) but has an entry ${list[0].id}`);
      if (req.status === 'unknown' || req.status === 'broken') mismatch(`${describe(req)}: outcome ${req.status} but has ${list.length} entr(y/ies)`);
      for (const e of list) {
        const expectCredit = req.entryType === 'credit';
        if (e.amount !== req.amount || e.currency !== req.currency || e.is_credit !== expectCredit) {
          mismatch(`${describe(req)}: its entry ${e.id} says ${e.is_credit ? 'credit' : 'debit'} ${e.amount} ${e.currency}`);
        }
        if (e.customer_id !== customerId || e.business_id !== BUSINESS_ID || e.event_type !== 'merchant_adjustment') {
          mismatch(`${describe(req)}: its entry ${e.id} has customer_id=${e.customer_id} business_id=${e.business_id} event_type=${e.event_type}`);
        }
      }
      if (req.status === 'success' && req.balance !== null && list[0].after_balance !== req.balance) {
        mismatch(`${describe(req)}: answered balance ${req.balance} (${req.via}) but its entry ${list[0].id} has after_balance ${list[0].after_balance}`);
      }
    }
    // Requests against entries.
    const mine = requests.filter((r) => r.customer === c);
    for (const req of mine) {
      if (req.status === 'success' && !entriesByKey.has(req.key)) {
        counts.lost += 1;
        problem('lost', `${describe(req)}: succeeded (${req.via}, balance ${req.balance}) but no entry carries its key`);
      }
    }
    // Per currency: counts, tally, balance, chain.
    for (const currency of CURRENCIES) {
      const successes = mine.filter((r) => r.currency === currency && r.status === 'success');
      const tally = successes.reduce((s, r) => s + (r.entryType === 'credit' ? r.amount : -r.amount), 0);
      const chain = history.filter((e) => e.currency === currency).reverse(); // oldest first
      const where = `customer #${c} ${customerId} ${currency}`;
      if (chain.length !== successes.length) mismatch(`${where}: ${chain.length} entries but ${successes.length} successful requests`);
      let previousAfter = 0;
      let sum = 0;
      chain.forEach((e, i) => {
        if (!Number.isSafeInteger(e.amount) || e.amount <= 0) mismatch(`${where}: entry ${e.id} has amount ${e.amount}`);
        if (e.before_balance !== previousAfter) mismatch(`${where}: entry #${i} ${e.id} before_balance ${e.before_balance} != previous after_balance ${previousAfter}`);
        const expectedAfter = e.before_balance + (e.is_credit ? e.amount : -e.amount);
        if (e.after_balance !== expectedAfter) mismatch(`${where}: entry #${i} ${e.id} after_balance ${e.after_balance} != ${e.before_balance} ${e.is_credit ? '+' : '-'} ${e.amount}`);
        if (e.after_balance < 0 || e.before_balance < 0) mismatch(`${where}: entry #${i} ${e.id} has a negative balance (${e.before_balance} -> ${e.after_balance})`);
        if (i > 0 && e.created_at < chain[i - 1].created_at) warn(`${where}: entry #${i} ${e.id} has created_at ${e.created_at}, earlier than the entry before it (${chain[i - 1].created_at})`);
        previousAfter = e.after_balance;
        sum += e.is_credit ? e.amount : -e.amount;
      });
      const balance = walletBalance.get(currency);
      if (balance === undefined) mismatch(`${where}: GET wallets has no ${currency} wallet`);
      if (balance !== sum) mismatch(`${where}: wallet balance ${balance} != history sum ${sum}`);
      if (balance !== tally) mismatch(`${where}: wallet balance ${balance} != client tally ${tally}`);
      if (sum !== tally) mismatch(`${where}: history sum ${sum} != client tally ${tally}`);
      if (balance !== undefined && balance < 0) mismatch(`${where}: negative balance ${balance}`);
      if (chain.length > 0 && chain[chain.length - 1].after_balance !== balance) {
        mismatch(`${where}: newest entry after_balance ${chain[chain.length - 1].after_balance} != wallet balance ${balance}`);
      }
    }
  }
  log(`verified ${customerIds.length} customers, ${entryIds.size} entries`);
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} not found: run npm run build first`);
  const watchdog = setTimeout(() => {
    console.error(`crash test: global deadline of ${DEADLINE_MS} ms exceeded; aborting`);
    cleanupSync();
    process.exit(1);
  }, DEADLINE_MS + 5_000);
  watchdog.unref();
  log(`seed=${SEED} cycles=${CYCLES} customers=${CUSTOMERS} concurrency=${CONCURRENCY} DATA_DIR=${dataDir}`);

  await startServer();
  await createCustomers();
  for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
    checkDeadline(`cycle ${cycle}`);
    // Odd cycles load a settled server; even cycles load right after the crash restart, while
    // the dead process may still hold the projection lease (writes then wait out read-your-writes).
    if (cycle > 1 && cycle % 2 === 1) await waitProjectorReady(`cycle ${cycle}`);
    log(`cycle ${cycle}: load starts (${cycle % 2 === 1 ? 'read models confirmed following writes' : 'no wait after the resends'})`);
    const before = { ack: stats.ack, refused: stats.refused, unknown: stats.unknown };
    await loadAndKill(cycle);
    log(`cycle ${cycle}: ack=${stats.ack - before.ack} refused=${stats.refused - before.refused} unknown=${stats.unknown - before.unknown}`);
    await ensureServer();
    // Once per run, before the resends: can a client read its own write right after a crash restart?
    if (cycle === 1) await readYourWritesProbe(`cycle ${cycle} restart`);
    await resolveUnknowns(`cycle ${cycle} restart`);
  }
  // Clean restart, then wait until reads follow writes before checking everything.
  await ensureServer();
  await stopServer();
  await startServer();
  await waitProjectorReady('final');
  await finalReplays();
  const counts = await verify();
  await stopServer();

  const writes = requests.filter((r) => r.status === 'success').length;
  const refused = requests.filter((r) => r.status === 'refused').length;
  // Every problem counts: verification findings and protocol ones (5xx, 422 on a replay, hangs, unresolved).
  const lost = problems.filter((p) => p.kind === 'lost').length;
  const doubled = problems.filter((p) => p.kind === 'doubled').length;
  const mismatches = problems.filter((p) => p.kind === 'mismatch').length;
  log(`verification alone: lost=${counts.lost} doubled=${counts.doubled} mismatches=${counts.mismatches}`);
  log(
    `requests=${requests.length} batches=${stats.batches} batch_entries=${requests.filter((r) => r.batch !== null).length} sent=${stats.sent} ack=${stats.ack} refused_first=${stats.refused} unknown=${stats.unknown} ` +
      `resends=${stats.resends} resolved_success=${stats.resolvedSuccess} resolved_refused=${stats.resolvedRefused} ` +
      `5xx=${stats.server5xx} slow_writes(>${SLOW_WRITE_MS}ms)=${stats.slowWrites} server_error_log_lines=${serverErrorLines}`,
  );
  log(`startup times (ms): ${startupTimes.join(', ')}; warnings: ${warnings.length}`);
  if (serverErrorLines > 0) warn(`the server logged ${serverErrorLines} ERROR line(s); see ${serverLogPath} (FAULTS_KEEP_DATA=1 keeps it)`);
  console.log(`crash test: cycles=${CYCLES} writes=${writes} refused=${refused} lost=${lost} doubled=${doubled} mismatches=${mismatches}`);
  return lost === 0 && doubled === 0 && mismatches === 0 ? 0 : 1;
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (error) => {
    console.error('crash test failed:', error instanceof Error ? error.stack : error);
    printLogTail(40);
    console.log(`crash test: cycles=${CYCLES} writes=? refused=? lost=? doubled=? mismatches=${problems.length + 1}`);
    cleanupSync();
    process.exit(1);
  },
);
