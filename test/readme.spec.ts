import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname ?? process.cwd(), '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** The README is what a newcomer reads first, in a fresh clone: every link must work there. */
describe('README and docs', () => {
  const readme = read('README.md');

  it.each(['README.md', 'docs/api.md'])('%s links only to files inside the repository that exist', (file) => {
    const targets = [...read(file).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^(https?:|mailto:|#)/.test(t));
    const broken = targets.filter((target) => {
      const path = resolve(root, file, '..', target.split('#')[0]);
      return relative(root, path).startsWith('..') || !existsSync(path);
    });
    expect(broken).toEqual([]);
  });

  it('points to the API reference in the repository', () => {
    expect(readme).toContain('](docs/api.md)');
    expect(existsSync(join(root, 'docs/api.md'))).toBe(true);
  });

  it('says in the quick start that npm start keeps the terminal and npm test needs no running server', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Using it'));
    expect(quickStart).toMatch(/npm start[^\n]*foreground/);
    expect(quickStart).toMatch(/`npm test` needs no running\s+server/);
  });

  it("documents in docs/api.md every error code of the README's table", () => {
    const codes = [...readme.matchAll(/^\| \d{3} \| `([A-Z_.]+)` \|/gm)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(15);
    const api = read('docs/api.md');
    expect(codes.filter((code) => !api.includes(`\`${code}\``))).toEqual([]);
  });
});
