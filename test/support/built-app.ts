import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Tests that run our processes as real child processes need `dist/`; build it once per run if missing. */
export function ensureBuilt(entry: string): void {
  if (existsSync(entry) && process.env.CI === 'true') return;
  // Locally, always rebuild: a stale dist/ would test yesterday's code.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

export interface ChildHandle {
  readonly process: ChildProcess;
  /** Everything the child printed so far (stdout and stderr). */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>;
  exited(): Promise<number | null>;
}

export function startChild(entry: string, env: Record<string, string>): ChildHandle {
  const child = spawn(process.execPath, [entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    process: child,
    output: () => text,
    exited: () => exit,
    async waitForOutput(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`child did not print ${pattern} within ${timeoutMs} ms; it printed:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
