import { Long, MongoServerError, type Collection, type Db } from 'mongodb';
import type { ProjectionRegistry, ProjectionRegistryEntry } from '../projection-registry.port.js';

export interface MongoProjectionRegistryOptions {
  /** The read models' database: the registry lives beside what it describes. */
  readonly db: Db;
  readonly clock: () => Date;
}

interface RegistryDoc {
  _id: string;
  activeVersion: number;
  rebuildingVersion: number | null;
  updatedAt: string;
}

const DUPLICATE_KEY = 11000;

/**
 * `projection_registry` in the read models' MongoDB database, one document per
 * projection. Changes are single-document conditional updates, atomic on MongoDB. (FerretDB
 * 1.x applies an update as read-then-write, so there two racing rebuilds could both win;
 * the rebuild lease keeps rebuilds to one at a time in the first place.)
 */
export class MongoProjectionRegistry implements ProjectionRegistry {
  private readonly registry: Collection<RegistryDoc>;
  private readonly checkpoints: Collection<{ _id: string; position: number | Long }>;

  constructor(private readonly options: MongoProjectionRegistryOptions) {
    this.registry = options.db.collection<RegistryDoc>('projection_registry');
    this.checkpoints = options.db.collection('projection_checkpoints');
  }

  async ensure(name: string, initialVersion: number): Promise<ProjectionRegistryEntry> {
    const existing = await this.get(name);
    if (existing !== null) return existing;
    try {
      await this.registry.insertOne({ _id: name, activeVersion: initialVersion, rebuildingVersion: null, updatedAt: this.now() });
    } catch (error) {
      // Another process created it first: theirs stands.
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    }
    const created = await this.get(name);
    if (created === null) throw new Error(`projection registry entry ${name} vanished`);
    return created;
  }

  async get(name: string): Promise<ProjectionRegistryEntry | null> {
    const doc = await this.registry.findOne({ _id: name });
    return doc === null ? null : toEntry(doc);
  }

  async list(): Promise<ProjectionRegistryEntry[]> {
    return (await this.registry.find({}).sort({ _id: 1 }).toArray()).map(toEntry);
  }

  async beginRebuild(name: string, active: number, version: number): Promise<boolean> {
    const result = await this.registry.updateOne(
      { _id: name, activeVersion: active, rebuildingVersion: null },
      { $set: { rebuildingVersion: version, updatedAt: this.now() } },
    );
    return result.modifiedCount === 1;
  }

  async switchActive(name: string, from: number, version: number): Promise<boolean> {
    const result = await this.registry.updateOne(
      { _id: name, activeVersion: from, rebuildingVersion: version },
      { $set: { activeVersion: version, rebuildingVersion: null, updatedAt: this.now() } },
    );
    return result.modifiedCount === 1;
  }

  async abandonRebuild(name: string, version: number): Promise<boolean> {
    const result = await this.registry.updateOne(
      { _id: name, rebuildingVersion: version },
      { $set: { rebuildingVersion: null, updatedAt: this.now() } },
    );
    return result.modifiedCount === 1;
  }

  /** A projection version's checkpoint, read without touching its collections. */
  async checkpointOf(versionName: string): Promise<number | null> {
    const doc = await this.checkpoints.findOne({ _id: versionName });
    if (doc === null) return null;
    return typeof doc.position === 'number' ? doc.position : doc.position.toNumber();
  }

  async close(): Promise<void> {
    // The database handle belongs to the caller.
  }

  private now(): string {
    return this.options.clock().toISOString();
  }
}

function toEntry(doc: RegistryDoc): ProjectionRegistryEntry {
  return {
    name: doc._id,
    activeVersion: doc.activeVersion,
    // FerretDB 1.x may drop null-valued fields: a missing field reads as null.
    rebuildingVersion: doc.rebuildingVersion ?? null,
    updatedAt: doc.updatedAt,
  };
}
