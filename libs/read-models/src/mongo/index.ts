export * from './mongo-projection-lease.js';
export * from './mongo-read-model-store.js';
