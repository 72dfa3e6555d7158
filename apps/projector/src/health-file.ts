import { rename, writeFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { ProjectionHealth } from '#ledger';

/*
 * The projector has no HTTP port (it scales by replicas, none of which should need one), so it
 * reports health through a file: every `HEALTH_FILE_WRITE_INTERVAL_MS` it checks its projection
 * (`ProjectionProcess.health`: runner state, heartbeat, lag) and writes the result where
 * `PROJECTOR_HEALTH_FILE` says. The container's healthcheck (`healthcheck.ts`) reads it back.
 */

/** How often the projector checks itself and rewrites the file. */
export const HEALTH_FILE_WRITE_INTERVAL_MS = 5_000;
/** A file not rewritten for this long means a hung event loop (or a dead writer): unhealthy. */
export const HEALTH_FILE_STALE_AFTER_MS = 30_000;
/** A health file is a few hundred bytes; anything far larger is not ours. */
const HEALTH_FILE_BYTES_MAX = 64 * 1024;
const HEALTH_FILE_PATH_LENGTH_MAX = 1024;

export class HealthFileConfigError extends Error {}

/** `PROJECTOR_HEALTH_FILE`: an absolute path, or unset (no file is written). */
export function healthFilePath(env: NodeJS.ProcessEnv): string | null {
  const value = env.PROJECTOR_HEALTH_FILE;
  if (value === undefined || value === '') return null;
  if (!isAbsolute(value) || value.length > HEALTH_FILE_PATH_LENGTH_MAX) {
    throw new HealthFileConfigError(
      `PROJECTOR_HEALTH_FILE must be an absolute path of at most ${HEALTH_FILE_PATH_LENGTH_MAX} characters, got "${value.slice(0, 80)}"`,
    );
  }
  return value;
}

/** Written beside the target and renamed over it, so a reader never sees half a file. */
export async function writeHealthFile(path: string, health: ProjectionHealth): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(health)}\n`, 'utf8');
  await rename(temporary, path);
}

export interface HealthVerdict {
  readonly healthy: boolean;
  /** One line for `docker inspect`'s health log. */
  readonly reason: string;
}

/** What the container healthcheck concludes from the file's text (null: no file). */
export function judgeHealthFile(text: string | null, nowMs: number): HealthVerdict {
  if (text === null)
    return { healthy: false, reason: 'no health file yet (starting, or PROJECTOR_HEALTH_FILE differs from the check)' };
  if (text.length > HEALTH_FILE_BYTES_MAX) return { healthy: false, reason: 'health file too large to be ours' };
  let health: Partial<ProjectionHealth>;
  try {
    health = JSON.parse(text) as Partial<ProjectionHealth>;
  } catch {
    return { healthy: false, reason: 'health file is not JSON' };
  }
  const checkedAtMs = typeof health.checkedAt === 'string' ? Date.parse(health.checkedAt) : NaN;
  if (Number.isNaN(checkedAtMs)) return { healthy: false, reason: 'health file has no checkedAt' };
  const ageMs = nowMs - checkedAtMs;
  if (ageMs > HEALTH_FILE_STALE_AFTER_MS)
    return { healthy: false, reason: `health file not rewritten for ${ageMs} ms: the projector is hung or gone` };
  const summary = `state ${health.state}, lag ${health.lagPositions ?? 'unknown'} positions, heartbeat ${health.heartbeatAgeMs ?? 'unknown'} ms ago`;
  if (health.ready !== true) return { healthy: false, reason: `not ready (${summary}): ${(health.problems ?? []).join('; ')}` };
  return { healthy: true, reason: summary };
}
