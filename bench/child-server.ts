import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A server the bench started as a child process, reachable on loopback. */
export interface ChildServer {
  readonly name: string;
  readonly pid: number;
  readonly baseUrl: string;
  /** The last lines the child wrote to stdout/stderr (bounded). */
  output(): string;
  /** How the child ended ("exit code 1, signal null"), or null while it runs. */
  exitInfo(): string | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly name: string;
  /** Absolute path of the compiled entry point. */
  readonly script: string;
  readonly env: Record<string, string>;
  /** Extra node flags placed before the script, e.g. --prof. */
  readonly nodeArgs?: readonly string[];
  readonly healthPath: string;
  readonly startTimeoutMs: number;
}

const OUTPUT_TAIL_CHARS = 16_000;
const live = new Set<ChildProcess>();
let exitHooksInstalled = false;

/** Asks the kernel for a free loopback port (a tiny race with other processes is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function startChildServer(options: StartOptions): Promise<ChildServer> {
  installExitHooks();
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  // Only what the server needs: no inherited NODE_OPTIONS, DATA_DIR, API_KEYS or backend URLs.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ...options.env,
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => live.delete(child));
  const state: { exit: string | null } = { exit: null };
  child.once('exit', (code, signal) => (state.exit = `exit code ${String(code)}, signal ${String(signal)}`));

  const server: ChildServer = {
    name: options.name,
    pid: child.pid ?? -1,
    baseUrl,
    output: () => tail,
    exitInfo: () => state.exit,
    stop: async (graceMs = 5000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killTimer);
    },
  };

  const deadline = Date.now() + options.startTimeoutMs;
  for (;;) {
    if (state.exit !== null) {
      throw new Error(`${options.name} exited before it became healthy (${state.exit}). Output:\n${tail}`);
    }
    if (Date.now() > deadline) {
      await server.stop(1000);
      throw new Error(
        `${options.name} did not answer GET ${options.healthPath} with 200 within ${options.startTimeoutMs} ms. Output:\n${tail}`,
      );
    }
    try {
      const response = await fetch(`${baseUrl}${options.healthPath}`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Kills every child still running: on normal exit, on errors and on Ctrl-C. */
export function killAllChildren(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping the servers`);
      killAllChildren();
      process.exit(130);
    });
  }
}
