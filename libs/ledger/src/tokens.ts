/** Injection tokens for the ports; adapters are chosen from configuration in `ledger.module.ts`. */
export const LEDGER_CONFIG = Symbol('LEDGER_CONFIG');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const READ_MODELS = Symbol('READ_MODELS');
export const READ_YOUR_WRITES = Symbol('READ_YOUR_WRITES');
export const WALLET_EXECUTOR = Symbol('WALLET_EXECUTOR');
export const WALLET_PROJECTOR = Symbol('WALLET_PROJECTOR');
export const DECIDER_CONFIG = Symbol('DECIDER_CONFIG');
export const PROJECTION_PROCESS = Symbol('PROJECTION_PROCESS');
export const PROJECTOR_RUNNER = Symbol('PROJECTOR_RUNNER');
export const LEDGER_METRICS = Symbol('LEDGER_METRICS');
