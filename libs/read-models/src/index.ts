export * from './read-model.port.js';
export * from './sqlite/sqlite-read-model-store.js';
export * from './wallet-projection.js';
export * from './projection-lease.port.js';
