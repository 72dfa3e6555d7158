// Static checks of the container setup: docker-compose.yml, .env.example, Dockerfile.
// There is no Docker engine in CI, so this is the only thing keeping these files honest.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadLedgerConfig } from '#ledger';
import { healthFilePath } from '../apps/projector/src/health-file.js';

const root = process.cwd();
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

type Env = Record<string, string>;
interface Healthcheck {
  test?: string | string[];
  disable?: boolean;
}
interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Env | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: Healthcheck;
  profiles?: string[];
  ports?: unknown[];
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as Compose;
const services = compose.services;

const DEFAULT_SERVICES = ['eventstore', 'mongo', 'api', 'projector'];
const CLUSTER_NODES = ['esdb-node1', 'esdb-node2', 'esdb-node3'];

/** Normalises both `environment:` forms (map and `KEY=value` list) to a map of strings. */
function envOf(service: Service): Env {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const i = entry.indexOf('=');
        return i < 0 ? [entry, ''] : [entry.slice(0, i), entry.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

function healthcheckText(service: Service): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
}

function commandText(service: Service): string {
  const command = service.command;
  return Array.isArray(command) ? command.join(' ') : (command ?? '');
}

/** Resolves compose `${VAR:-default}` / `${VAR-default}` / `${VAR}` as if no variable were set. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}/g, (_all, fallback?: string) => fallback ?? '');
}

/** Every string (keys and values) in the parsed document: what compose interpolates, comments excluded. */
function allStrings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(allStrings);
  if (node && typeof node === 'object') {
    return Object.entries(node).flatMap(([key, value]) => [key, ...allStrings(value)]);
  }
  return [];
}

/** `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:?msg}` and `$VAR`, skipping `$$` escapes. */
function interpolatedVariables(doc: unknown): string[] {
  const names = new Set<string>();
  const re = /\$(\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g;
  for (const text of allStrings(doc)) {
    for (const m of text.matchAll(re)) {
      if (m[1]) continue; // `$$` is a literal dollar in compose files
      names.add(m[2] ?? m[3]);
    }
  }
  return [...names];
}

describe('docker-compose.yml', () => {
  it('defines the four default services, none of them behind a profile', () => {
    for (const name of DEFAULT_SERVICES) {
      expect(services[name]).toBeDefined();
      expect(services[name].profiles ?? []).toEqual([]);
    }
  });

  it.each(['api', 'projector'])('%s waits for healthy eventstore and mongo', (name) => {
    const dependsOn = services[name].depends_on;
    expect(dependsOn).toBeDefined();
    expect(Array.isArray(dependsOn)).toBe(false); // the short list form cannot express conditions
    const deps = dependsOn as Record<string, { condition?: string }>;
    expect(deps.eventstore?.condition).toBe('service_healthy');
    expect(deps.mongo?.condition).toBe('service_healthy');
  });

  it('api and projector run the same locally built image with different entry points', () => {
    const { api, projector } = services;
    expect(api.build).toBeDefined();
    expect(projector.image ?? '').toBe(api.image ?? '');
    expect(projector.build ?? api.image).toBeDefined(); // buildable, or reuses api's image tag
    expect(commandText(projector)).toContain('dist/apps/projector/src/main.js');
    expect(projector.restart).toBe('unless-stopped');
    expect(projector.ports ?? []).toEqual([]); // no fixed host port, so it can be scaled
    expect(projector.healthcheck?.test).toBeDefined();
  });

  it('projector is checked by its health file (heartbeat, lag, runner state), not by being alive', () => {
    const projector = services.projector;
    expect(healthcheckText(projector)).toBe('CMD node dist/apps/projector/src/healthcheck.js');
    expect(existsSync(join(root, 'apps/projector/src/healthcheck.ts'))).toBe(true);
    expect(healthFilePath(envOf(projector))).toBe('/tmp/projector-health.json');
    // The API has a port to be asked on instead.
    expect(envOf(services.api).PROJECTOR_HEALTH_FILE).toBeUndefined();
  });

  it('api publishes port 3000, checks /health, and runs with the projector external', () => {
    const api = services.api;
    expect((api.ports ?? []).map(String)).toContain('3000:3000');
    expect(healthcheckText(api)).toContain('/health');
    expect(healthcheckText(api)).not.toContain('curl'); // node:*-slim has no curl
    const env = envOf(api);
    expect(env.PROJECTOR_MODE).toBe('external');
    expect(env.NODE_ENV).toBe('production');
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.API_KEYS).toMatch(/^\$\{API_KEYS:-.+\}$/);
    expect(env.EVENTSTORE_URL).toContain('esdb://eventstore:2113');
    expect(env.MONGODB_URL).toContain('replicaSet=rs0');
  });

  it.each(['api', 'projector'])('%s environment, with compose defaults, passes the app config loader', (name) => {
    const env = Object.fromEntries(Object.entries(envOf(services[name])).map(([k, v]) => [k, withDefaults(v)]));
    const config = loadLedgerConfig(env);
    expect(config.nodeEnv).toBe('production');
    expect(config.usingDevelopmentKey).toBe(false);
    expect(config.apiKeys.length).toBeGreaterThan(0);
    expect(config.projectorMode).toBe('external');
    expect(config.eventStoreUrl).toBe('esdb://eventstore:2113?tls=false');
    expect(config.mongoUrl).toBe('mongodb://mongo:27017/?replicaSet=rs0&w=majority');
  });

  it('the documented cluster EVENTSTORE_URL passes the app config loader', () => {
    const documented = /^#\s+(esdb\+discover:\/\/esdb-node1:2113\S*)$/m.exec(read('.env.example'));
    expect(documented).not.toBeNull();
    const env = { ...envOf(services.api), EVENTSTORE_URL: documented![1] };
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, withDefaults(v)]));
    expect(loadLedgerConfig(resolved).eventStoreUrl).toBe(documented![1]);
  });

  it('eventstore is an insecure single node with a /health/live healthcheck and a named volume', () => {
    const es = services.eventstore;
    const env = envOf(es);
    expect(env.EVENTSTORE_INSECURE).toBe('true');
    expect(env.EVENTSTORE_CLUSTER_SIZE ?? '1').toBe('1');
    expect(es.healthcheck?.disable).not.toBe(true);
    expect(healthcheckText(es)).toContain('/health/live');
    expect(healthcheckText(es)).toContain('2113');
    const volumeSources = ((es as { volumes?: string[] }).volumes ?? []).map((v) => String(v).split(':')[0]);
    expect(volumeSources.some((source) => source in (compose.volumes ?? {}))).toBe(true);
  });

  it('mongo runs as replica set rs0 and its healthcheck initiates it', () => {
    const mongo = services.mongo;
    const command = commandText(mongo);
    expect(command).toContain('--replSet');
    expect(command).toMatch(/--replSet[ =]rs0/);
    expect(command).toContain('--bind_ip_all');
    const check = healthcheckText(mongo);
    expect(check).toContain('mongosh');
    expect(check).toContain('rs.initiate');
    expect(check).toContain("_id: 'rs0'");
    expect(check).toContain("host: 'mongo:27017'");
    const volumeSources = ((mongo as { volumes?: string[] }).volumes ?? []).map((v) => String(v).split(':')[0]);
    expect(volumeSources.some((source) => source in (compose.volumes ?? {}))).toBe(true);
  });

  it('profile "cluster" holds exactly the three EventStoreDB nodes, gossiping with each other', () => {
    const clusterServices = Object.entries(services)
      .filter(([, s]) => (s.profiles ?? []).includes('cluster'))
      .map(([name]) => name)
      .sort();
    expect(clusterServices).toEqual(CLUSTER_NODES);

    for (const name of CLUSTER_NODES) {
      const node = services[name];
      expect(node.profiles).toEqual(['cluster']);
      expect(node.image).toMatch(/^eventstore\/eventstore:/);
      const env = envOf(node);
      expect(env.EVENTSTORE_CLUSTER_SIZE).toBe('3');
      expect(env.EVENTSTORE_INSECURE).toBe('true');
      expect(env.EVENTSTORE_DISCOVER_VIA_DNS).toBe('false');
      const seeds = (env.EVENTSTORE_GOSSIP_SEED ?? '').split(',').map((s) => s.trim()).sort();
      const others = CLUSTER_NODES.filter((n) => n !== name).map((n) => `${n}:2113`);
      expect(seeds).toEqual(others);
      expect(healthcheckText(node)).toContain('/health/live');
    }
  });

  it('runs every EventStoreDB node without projections, and MongoDB on a patch tag', () => {
    // Standard projections add link events to $all that audit, rebuild and lag read only to drop.
    for (const name of ['eventstore', ...CLUSTER_NODES]) {
      const env = envOf(services[name]);
      expect({ name, run: env.EVENTSTORE_RUN_PROJECTIONS, start: env.EVENTSTORE_START_STANDARD_PROJECTIONS }).toEqual({
        name,
        run: 'None',
        start: undefined,
      });
    }
    expect(services.mongo.image).toMatch(/^mongo:\d+\.\d+\.\d+$/);
  });

  it('pins every image to an explicit, non-latest tag', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.image) {
        expect({ name, build: service.build }).toEqual({ name, build: expect.anything() });
        continue;
      }
      const lastSegment = service.image.split('/').pop() ?? '';
      const [, tag] = lastSegment.split(':');
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^[\w][\w.-]*$/) });
      expect({ name, tag }).not.toEqual({ name, tag: 'latest' });
    }
  });

  it('documents every interpolated ${VAR} in .env.example', () => {
    const used = interpolatedVariables(compose);
    expect(used).toContain('API_KEYS'); // sanity: the scan actually finds variables
    const envExample = read('.env.example');
    const documented = new Set(
      [...envExample.matchAll(/^#?\s*([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]),
    );
    const missing = used.filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });
});

describe('.env.example', () => {
  const lines = read('.env.example').split('\n');

  it('gives every variable a comment directly above it', () => {
    const undocumented: string[] = [];
    lines.forEach((line, i) => {
      const active = /^([A-Z_][A-Z0-9_]*)=/.exec(line);
      const commented = /^#\s*([A-Z_][A-Z0-9_]*)=/.exec(line);
      const name = active?.[1] ?? commented?.[1];
      if (!name) return;
      const previous = lines[i - 1] ?? '';
      const previousIsProse = previous.startsWith('#') && !/^#\s*[A-Z_][A-Z0-9_]*=/.test(previous);
      if (!previousIsProse) undocumented.push(name);
    });
    expect(undocumented).toEqual([]);
  });

  it('covers every variable the app reads', () => {
    const text = lines.join('\n');
    // The variables named in the brief, plus whatever the config loader reads today.
    const names = new Set([
      'PORT',
      'HOST',
      'DATA_DIR',
      'API_KEYS',
      'ADMIN_API_KEYS',
      'EVENTSTORE_URL',
      'MONGODB_URL',
      'MONGODB_DB',
      'PROJECTOR_MODE',
      'CURRENCIES',
      'USD_RATES',
      'IDEMPOTENCY_RETENTION_HOURS',
      'LOG_LEVEL',
      'NODE_ENV',
    ]);
    const loader = read('libs/ledger/src/ledger-config.ts');
    for (const m of loader.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]);
    for (const call of loader.matchAll(/\bread\.\w+\(([^)]*)\)/g)) {
      for (const m of call[1].matchAll(/'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]);
    }
    expect(names.size).toBeGreaterThan(14); // the loader scan found its tuning variables too
    const missing = [...names].filter((name) => !new RegExp(`^#?\\s*${name}=`, 'm').test(text));
    expect(missing).toEqual([]);
  });
});

describe('Dockerfile', () => {
  it('exists alongside a .dockerignore that keeps build output and local state out', () => {
    expect(existsSync(join(root, 'Dockerfile'))).toBe(true);
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(entry);
  });

  const dockerfile = existsSync(join(root, 'Dockerfile')) ? read('Dockerfile') : '';
  // Instructions only: drop comments and join `\` continuations.
  const instructions = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage on node:20-bookworm-slim and prunes dev dependencies', () => {
    const froms = instructions.filter((l) => /^FROM\s/i.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toContain('node:20-bookworm-slim');
    expect(instructions.some((l) => /^RUN .*apt-get install .*python3.*make.*g\+\+/.test(l))).toBe(true);
    expect(instructions.some((l) => /^RUN .*npm ci/.test(l))).toBe(true);
    expect(instructions.some((l) => /^RUN .*npm prune --omit=dev/.test(l))).toBe(true);
    expect(instructions.some((l) => /^COPY --from=\S+ .*dist/.test(l))).toBe(true);
  });

  it('runs dist/apps/api/src/main.js as the non-root node user', () => {
    const cmd = instructions.filter((l) => /^(CMD|ENTRYPOINT)\s/i.test(l)).pop() ?? '';
    expect(cmd).toContain('dist/apps/api/src/main.js');
    const user = instructions.filter((l) => /^USER\s/i.test(l)).pop() ?? '';
    expect(user).toBe('USER node');
  });
});
