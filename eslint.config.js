// Flat config: typescript-eslint's recommended rules plus the few that guard money code, and the
// library boundaries (docs/architecture.md): each library is reached only through its alias.
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const LIBRARIES = 'domain|event-store|read-models|ledger';

/** Imports no file may make: a relative path into another library, an app, or deeper than a public entry point. */
const BOUNDARY_PATTERNS = [
  {
    regex: `^(\\./)?(\\.\\./)+(libs/)?(${LIBRARIES})/src(/|$)`,
    message: 'Reach another library through its alias (#domain, #event-store, #read-models, #ledger), not a relative path.',
  },
  { regex: '^(\\./)?(\\.\\./)+libs/', message: 'Reach a library through its alias (#domain, #event-store, #read-models, #ledger).' },
  {
    regex: `^#(?!(${LIBRARIES})$|event-store/eventstoredb$|read-models/mongo$|ledger/nest$)`,
    message: 'Only the public entry points in package.json "imports" may be imported: no deep imports into a library.',
  },
];

/**
 * `no-restricted-imports` never sees `import()`, which is how the lazily loaded production
 * adapters are imported: the same patterns, applied to dynamic imports with string sources.
 */
function dynamicImportRules(patterns) {
  return patterns.map(({ regex, message }) => ({
    selector: `ImportExpression > Literal[value=/${regex.replaceAll('/', '\\/')}/]`,
    message: `import(): ${message}`,
  }));
}

function boundaryRules(patterns) {
  return {
    'no-restricted-imports': ['error', { patterns }],
    'no-restricted-syntax': ['error', ...dynamicImportRules(patterns)],
  };
}

/**
 * Layer rules: a library never imports one above it (domain < event-store < read-models < ledger < apps),
 * nor its own alias (a cycle through its barrel).
 */
function layer(files, self, forbidden, extraPatterns = []) {
  return {
    files,
    rules: boundaryRules([
      ...BOUNDARY_PATTERNS,
      ...extraPatterns,
      { regex: `^#${self}(/|$)`, message: `Inside #${self}, import its files by relative path, not through its own alias.` },
      ...forbidden.map((name) => ({
        regex: `^#${name}(/|$)`,
        message: `An upward or sideways import: ${files[0]} must not depend on #${name}.`,
      })),
    ]),
  };
}

const NO_APPS = [{ regex: '^(\\./)?(\\.\\./)+(apps|test|bench)/', message: 'A library never imports an app, a test or a benchmark.' }];
const PURE_DOMAIN = [
  {
    regex: '^(@nestjs/|@eventstore/|@kurrent/|mongodb(/|$)|better-sqlite3$|(node:)?(fs|net|http|https|child_process|worker_threads)(/|$))',
    message: 'The domain is pure: no framework, store or I/O imports.',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
    },
  },
  { rules: boundaryRules(BOUNDARY_PATTERNS) },
  {
    files: ['apps/**/*.ts'],
    rules: boundaryRules([
      ...BOUNDARY_PATTERNS,
      { regex: '^(\\./)?(\\.\\./)+(api|cli|projector)/', message: 'An app never imports another app: shared code belongs in a library.' },
    ]),
  },
  layer(['libs/domain/**/*.ts'], 'domain', ['event-store', 'read-models', 'ledger'], [...NO_APPS, ...PURE_DOMAIN]),
  layer(['libs/event-store/**/*.ts'], 'event-store', ['domain', 'read-models', 'ledger'], NO_APPS),
  layer(['libs/read-models/**/*.ts'], 'read-models', ['ledger'], NO_APPS),
  layer(['libs/ledger/**/*.ts'], 'ledger', [], NO_APPS),
);
