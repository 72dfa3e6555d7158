export * from './currency.js';
export * from './domain-error.js';
export * from './wallet/idempotency-index.js';
export * from './wallet/wallet.commands.js';
export * from './wallet/wallet.decider.js';
export * from './wallet/wallet.events.js';
export * from './wallet/wallet-event.codec.js';
