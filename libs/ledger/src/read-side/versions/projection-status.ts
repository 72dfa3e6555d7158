import { WALLET_PROJECTION } from '#read-models';
import type { LogHead } from '#event-store';
import type { ReadModelBackend } from './read-model-backend.js';

export interface ProjectionVersionStatus {
  readonly version: number;
  readonly checkpoint: number | null;
  /** Events in the log after the checkpoint. */
  readonly lag: number;
}

export interface ProjectionStatus {
  readonly name: string;
  readonly activeVersion: number;
  readonly checkpoint: number | null;
  readonly lag: number;
  readonly state: 'live' | 'rebuilding';
  /** The version being built, while `state` is `rebuilding`. */
  readonly rebuilding: ProjectionVersionStatus | null;
  readonly updatedAt: string | null;
}

/** Every projection in the registry (the wallet projection even before anything registered it). */
export async function projectionStatus(backend: ReadModelBackend, logHead: LogHead): Promise<ProjectionStatus[]> {
  const entries = await backend.registry.list();
  const known =
    entries.length > 0
      ? entries
      : [{ name: WALLET_PROJECTION.name, activeVersion: WALLET_PROJECTION.version, rebuildingVersion: null, updatedAt: null }];
  const statuses: ProjectionStatus[] = [];
  for (const entry of known) {
    const checkpoint = await backend.checkpointOf(entry.activeVersion);
    let rebuilding: ProjectionVersionStatus | null = null;
    if (entry.rebuildingVersion !== null) {
      const rebuildCheckpoint = await backend.checkpointOf(entry.rebuildingVersion);
      rebuilding = {
        version: entry.rebuildingVersion,
        checkpoint: rebuildCheckpoint,
        lag: await logHead.countAfter(rebuildCheckpoint),
      };
    }
    statuses.push({
      name: entry.name,
      activeVersion: entry.activeVersion,
      checkpoint,
      lag: await logHead.countAfter(checkpoint),
      state: rebuilding === null ? 'live' : 'rebuilding',
      rebuilding,
      updatedAt: entry.updatedAt,
    });
  }
  return statuses;
}
