// Jest runs our ESM TypeScript through SWC. SWC (unlike esbuild) emits decorator
// metadata, which Nest's dependency injection and class-validator both need.
const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2022',
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swcOptions],
  },
  // Dependencies are plain JavaScript as published. (The ESM-only content-disposition@3 that once
  // needed compiling here is overridden to the CommonJS 2.x in package.json, for Node 20.)
  transformIgnorePatterns: ['/node_modules/'],
  moduleNameMapper: {
    // The libraries' public entry points (package.json "imports"), from source: the built
    // dist is what "default" points at, and tests must not depend on a build.
    '^#(domain|event-store|read-models|ledger)$': '<rootDir>/libs/$1/src/index.ts',
    '^#(event-store)/(eventstoredb)$': '<rootDir>/libs/$1/src/$2/index.ts',
    '^#(read-models)/(mongo)$': '<rootDir>/libs/$1/src/$2/index.ts',
    '^#ledger/nest$': '<rootDir>/libs/ledger/src/nest.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/report-backends.js',
};
