import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Every library alias in package.json "imports" must reach the source in tests, as tsc's
// `types` condition does: an alias jest did not map would fall through to its `default`
// condition, the built dist, and tests would silently run against a stale build.
const ROOT = join(import.meta.dirname ?? process.cwd(), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  imports: Record<string, { types: string; default: string }>;
};
let mapper: Record<string, string> = {};
beforeAll(async () => {
  // jest.config.js is plain JavaScript (no types); load it as data.
  const config = (await import(join(ROOT, 'jest.config.js'))) as { default: { moduleNameMapper: Record<string, string> } };
  mapper = config.default.moduleNameMapper;
});

function jestTarget(alias: string): string | null {
  for (const [pattern, replacement] of Object.entries(mapper)) {
    const match = new RegExp(pattern).exec(alias);
    if (match === null) continue;
    return replacement.replace(/\$(\d)/g, (_, n: string) => match[Number(n)]).replace('<rootDir>', ROOT);
  }
  return null;
}

describe('library aliases', () => {
  it.each(Object.keys(pkg.imports))('%s maps to the same source file in jest as in tsc', (alias) => {
    const source = join(ROOT, pkg.imports[alias].types);
    expect(existsSync(source)).toBe(true);
    expect(jestTarget(alias)).toBe(source);
    expect(pkg.imports[alias].default).toBe(pkg.imports[alias].types.replace(/^\.\//, './dist/').replace(/\.ts$/, '.js'));
  });

  it('jest maps no alias that package.json does not declare', () => {
    for (const alias of ['#read-models/eventstoredb', '#event-store/mongo', '#ledger/backends', '#domain/wallet']) {
      expect(jestTarget(alias)).toBeNull();
    }
  });
});
