import { readFileSync } from 'node:fs';
import { healthFilePath, judgeHealthFile } from './health-file.js';

/*
 * The projector container's healthcheck: `node dist/apps/projector/src/healthcheck.js`.
 * Exit 0 when the projector's health file is fresh and says ready; 1 otherwise, with the
 * reason on stdout (docker keeps it in the container's health log).
 */
function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

try {
  const path = healthFilePath(process.env);
  if (path === null) {
    console.log('PROJECTOR_HEALTH_FILE is not set: the projector writes no health file to check');
    process.exit(1);
  }
  const verdict = judgeHealthFile(read(path), Date.now());
  console.log(verdict.reason);
  process.exit(verdict.healthy ? 0 : 1);
} catch (error) {
  console.log(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
