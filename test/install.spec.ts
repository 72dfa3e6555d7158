import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// semver is what npm itself uses to check `engines`; it is here through npm's own tooling deps.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

const root = join(import.meta.dirname ?? process.cwd(), '..');
const readJson = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>;

type LockPackage = {
  version?: string;
  engines?: { node?: string } | string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

/**
 * What a fresh clone's `npm ci` will do, read from the files it reads: the lock must agree
 * with package.json (or `npm install` rewrites it and dirties the clone), and every locked
 * package must accept every Node version we support (or npm prints EBADENGINE).
 */
describe('a clean install', () => {
  const manifest = readJson('package.json') as {
    engines: { node: string };
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const lock = readJson('package-lock.json') as { packages: Record<string, LockPackage> };

  it('has a package-lock.json that agrees with package.json', () => {
    const locked = lock.packages[''];
    expect(locked.dependencies).toEqual(manifest.dependencies);
    expect(locked.devDependencies).toEqual(manifest.devDependencies);
  });

  it('locks only packages whose engines accept the oldest Node we support and the one running', () => {
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    expect(oldest).toBe('20.19.0');
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, pkg]) => {
        const range = !Array.isArray(pkg.engines) ? pkg.engines?.node : undefined;
        if (range === undefined) return [];
        return [oldest, process.versions.node]
          .filter((version) => !semver.satisfies(version, range))
          .map((version) => `${path}@${pkg.version} wants node ${range}, not ${version}`);
      });
    expect(refusing).toEqual([]);
  });

  it('overrides the Node-22-only transitive packages with versions that run on Node 20', () => {
    const version = (path: string) => lock.packages[path]?.version;
    const cd = Object.keys(lock.packages)
      .filter((p) => p.endsWith('node_modules/content-disposition'))
      .map(version);
    const cookie = Object.keys(lock.packages)
      .filter((p) => p.endsWith('node_modules/cookie'))
      .map(version);
    const fileType = Object.keys(lock.packages)
      .filter((p) => p.endsWith('node_modules/file-type'))
      .map(version);
    expect({ cd, cookie, fileType }).toEqual({ cd: ['2.0.1'], cookie: ['1.1.1'], fileType: ['21.3.4'] });
  });

  it('loads the overridden packages with the API their dependents call', async () => {
    const requireFrom = (dependent: string) => createRequire(require_resolve(dependent));
    // @fastify/static calls content-disposition's create(); light-my-request calls cookie's stringifySetCookie().
    const contentDisposition = requireFrom('@fastify/static')('content-disposition') as { create(name: string): string };
    expect(contentDisposition.create('ledger.csv')).toBe('attachment; filename=ledger.csv');
    const cookie = requireFrom('light-my-request')('cookie') as { stringifySetCookie(name: string, value: string): string };
    expect(cookie.stringifySetCookie('a', 'b')).toBe('a=b');
    // @nestjs/common imports file-type's fileTypeFromBuffer() for its FileTypeValidator.
    // (ESM only, so found through the lock rather than require.resolve.)
    const fileTypeDir = Object.keys(lock.packages).find((p) => p.endsWith('node_modules/file-type'))!;
    const fileType = (await import(join(root, fileTypeDir, 'index.js'))) as {
      fileTypeFromBuffer(b: Uint8Array): Promise<{ mime: string } | undefined>;
    };
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    expect((await fileType.fileTypeFromBuffer(png))?.mime).toBe('image/png');
  });
});

function require_resolve(name: string): string {
  return createRequire(join(root, 'package.json')).resolve(`${name}/package.json`);
}
