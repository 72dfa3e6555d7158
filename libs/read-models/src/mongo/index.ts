export * from './insert-once.js';
export * from './mongo-client-options.js';
export * from './mongo-projection-lease.js';
export * from './mongo-projection-registry.js';
export * from './mongo-read-model-store.js';
export * from './mongo-projection-registry.js';
