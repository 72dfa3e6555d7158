export * from './read-model.port.js';
export * from './sqlite/sqlite-read-model-store.js';
export * from './wallet-projection.js';
export * from './projection-lease.port.js';
export * from './projection-registry.port.js';
export * from './sqlite/sqlite-projection-lease.js';
export * from './sqlite/sqlite-projection-registry.js';
