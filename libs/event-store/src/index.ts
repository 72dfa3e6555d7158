export * from './event-store.port.js';
export * from './snapshot-store.port.js';
export * from './key-index.port.js';
export * from './in-memory/in-memory-event-store.js';
export * from './sqlite/sqlite-event-store.js';
export * from './log-head.js';
export * from './sqlite/sqlite-log-head.js';
export * from './log-identity.js';
