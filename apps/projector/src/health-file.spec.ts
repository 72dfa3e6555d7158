import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProjectionHealth } from '#ledger';
import {
  HEALTH_FILE_STALE_AFTER_MS,
  HealthFileConfigError,
  healthFilePath,
  judgeHealthFile,
  writeHealthFile,
} from './health-file.js';

const NOW_MS = Date.parse('2026-12-04T12:00:00.000Z');

function health(overrides: Partial<ProjectionHealth> = {}): ProjectionHealth {
  return {
    ready: true,
    state: 'projecting',
    problems: [],
    appliedPosition: 40,
    headPosition: 41,
    lagPositions: 1,
    heartbeatAt: new Date(NOW_MS - 1_000).toISOString(),
    heartbeatAgeMs: 1_000,
    failuresInARow: 0,
    resubscribes: null,
    checkedAt: new Date(NOW_MS).toISOString(),
    ...overrides,
  };
}

describe('the projector health file', () => {
  it('is healthy when fresh and ready, and says what it saw', () => {
    expect(judgeHealthFile(JSON.stringify(health()), NOW_MS + 5_000)).toEqual({
      healthy: true,
      reason: 'state projecting, lag 1 positions, heartbeat 1000 ms ago',
    });
  });

  it('is unhealthy when the projection is not ready, with its problems', () => {
    const verdict = judgeHealthFile(
      JSON.stringify(health({ ready: false, state: 'failed', problems: ['the projector gave up: checkpoint of another log'] })),
      NOW_MS,
    );
    expect(verdict.healthy).toBe(false);
    expect(verdict.reason).toMatch(/^not ready \(state failed.*\): the projector gave up: checkpoint of another log$/);
  });

  it('is unhealthy when the file is stale (a hung projector), missing, or not ours', () => {
    expect(judgeHealthFile(JSON.stringify(health()), NOW_MS + HEALTH_FILE_STALE_AFTER_MS + 1).healthy).toBe(false);
    expect(judgeHealthFile(JSON.stringify(health()), NOW_MS + HEALTH_FILE_STALE_AFTER_MS).healthy).toBe(true);
    expect(judgeHealthFile(null, NOW_MS).healthy).toBe(false);
    expect(judgeHealthFile('{not json', NOW_MS).healthy).toBe(false);
    expect(judgeHealthFile(JSON.stringify({ ready: true }), NOW_MS).healthy).toBe(false);
    expect(judgeHealthFile(' '.repeat(100_000), NOW_MS).healthy).toBe(false);
  });

  it('takes an absolute PROJECTOR_HEALTH_FILE, or none', () => {
    expect(healthFilePath({})).toBeNull();
    expect(healthFilePath({ PROJECTOR_HEALTH_FILE: '' })).toBeNull();
    expect(healthFilePath({ PROJECTOR_HEALTH_FILE: '/tmp/h.json' })).toBe('/tmp/h.json');
    expect(() => healthFilePath({ PROJECTOR_HEALTH_FILE: 'relative/h.json' })).toThrow(HealthFileConfigError);
    expect(() => healthFilePath({ PROJECTOR_HEALTH_FILE: `/${'x'.repeat(2000)}` })).toThrow(HealthFileConfigError);
  });

  it('is written whole (through a rename) and reads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'projector-health-'));
    try {
      const path = join(dir, 'health.json');
      await writeHealthFile(path, health({ lagPositions: 7 }));
      await writeHealthFile(path, health({ lagPositions: 8 }));
      expect(readdirSync(dir)).toEqual(['health.json']);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ lagPositions: 8 });
      expect(judgeHealthFile(readFileSync(path, 'utf8'), NOW_MS).healthy).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
