// The Nest wiring of the ledger: a separate entry point (#ledger/nest) so that tools which only
// replay, audit or rebuild (the CLI, benchmarks) do not load Nest, CQRS and every handler.
export * from './ledger.module.js';
