// Flat config: typescript-eslint's recommended rules plus the few that guard money code, and the
// library boundaries (docs/architecture.md): each library is reached only through its alias.
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const LIBRARIES = 'domain|event-store|read-models|ledger';

/** Imports no file may make: a relative path into another library, an app, or deeper than a public entry point. */
const BOUNDARY_PATTERNS = [
  {
    regex: `^(\\.\\./)+(libs/)?(${LIBRARIES})/src(/|$)`,
    message: 'Reach another library through its alias (#domain, #event-store, #read-models, #ledger), not a relative path.',
  },
  { regex: '^(\\.\\./)+libs/', message: 'Reach a library through its alias (#domain, #event-store, #read-models, #ledger).' },
  {
    regex: `^#(?!(${LIBRARIES})$|event-store/eventstoredb$|read-models/mongo$|ledger/nest$)`,
    message: 'Only the public entry points in package.json "imports" may be imported: no deep imports into a library.',
  },
];

/** Layer rules: a library never imports one above it (domain < event-store < read-models < ledger < apps). */
function layer(files, forbidden, extraPatterns = []) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...BOUNDARY_PATTERNS,
            ...extraPatterns,
            ...forbidden.map((name) => ({
              regex: `^#${name}(/|$)`,
              message: `An upward or sideways import: ${files[0]} must not depend on #${name}.`,
            })),
          ],
        },
      ],
    },
  };
}

const NO_APPS = [{ regex: '^(\\.\\./)+(apps|test|bench)/', message: 'A library never imports an app, a test or a benchmark.' }];
const PURE_DOMAIN = [
  {
    regex: '^(@nestjs/|@eventstore/|mongodb$|better-sqlite3$|node:fs|node:net|node:http)',
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
      'no-restricted-imports': ['error', { patterns: BOUNDARY_PATTERNS }],
    },
  },
  layer(['libs/domain/**/*.ts'], ['event-store', 'read-models', 'ledger'], [...NO_APPS, ...PURE_DOMAIN]),
  layer(['libs/event-store/**/*.ts'], ['domain', 'read-models', 'ledger'], NO_APPS),
  layer(['libs/read-models/**/*.ts'], ['ledger'], NO_APPS),
  layer(['libs/ledger/**/*.ts'], [], NO_APPS),
);
