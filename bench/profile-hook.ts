import { Session } from 'node:inspector';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Preloaded into a server child with `node --import <this file>` when the bench runs
 * with BENCH_PROFILE=1. Each SIGWINCH (ignored by default, and not one of the signals
 * Nest's enableShutdownHooks() closes the app on, unlike SIGUSR2) toggles the V8 CPU profiler of the main thread:
 * the first starts it, the second stops it and writes
 * `$BENCH_PROFILE_DIR/<n>.cpuprofile` (n counts from 1), so only the measured
 * window is profiled. Over the same window it records the event-loop delay (stalls) into
 * `<n>.loop.json`. Not loaded at all in a normal bench run.
 */

const directory = process.env.BENCH_PROFILE_DIR;
if (directory !== undefined && directory !== '') {
  const session = new Session();
  session.connect();
  let running = false;
  let written = 0;
  let loopDelay: IntervalHistogram | null = null;
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );

  process.on('SIGWINCH', () => {
    if (!running) {
      running = true;
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      post('Profiler.enable')
        .then(() => post('Profiler.setSamplingInterval', { interval: 500 }))
        .then(() => post('Profiler.start'))
        .catch((error: unknown) => console.error('profile-hook: could not start the profiler', error));
      return;
    }
    running = false;
    const delay = loopDelay;
    delay?.disable();
    post('Profiler.stop')
      .then((result) => {
        written += 1;
        const file = join(directory, `${written}.cpuprofile`);
        if (delay !== null) {
          const ms = (ns: number) => Math.round(ns / 1e4) / 100;
          const stats = {
            p50Ms: ms(delay.percentile(50)),
            p99Ms: ms(delay.percentile(99)),
            maxMs: ms(delay.max),
            meanMs: ms(delay.mean),
          };
          writeFileSync(join(directory, `${written}.loop.json`), JSON.stringify(stats));
        }
        writeFileSync(`${file}.tmp`, JSON.stringify((result as { profile: unknown }).profile));
        // Renamed into place so the bench never reads a half-written file.
        renameSync(`${file}.tmp`, file);
      })
      .catch((error: unknown) => console.error('profile-hook: could not write the profile', error));
  });
}
