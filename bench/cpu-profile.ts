import { existsSync, readFileSync } from 'node:fs';

/** Summaries of a V8 .cpuprofile (main thread, sampled): where the server's time went. */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileShare {
  readonly name: string;
  /** Share of the profiled wall time, in percent. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly wallSeconds: number;
  readonly samples: number;
  /** Self time by origin: idle, GC, native, each npm package, node core, each part of our code. */
  readonly selfByGroup: readonly ProfileShare[];
  /** Self time by function. */
  readonly selfByFunction: readonly ProfileShare[];
  /** Time with the function anywhere on the stack, for our own code and a few framework entry points. */
  readonly inclusive: readonly ProfileShare[];
  /** Event-loop delay over the same window (perf_hooks, 10 ms resolution), when recorded. */
  readonly loopDelay: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number; readonly meanMs: number } | null;
}

/** Frames every sample passes through; their inclusive time says nothing. */
const GENERIC = new Set([
  '(root)',
  'processTicksAndRejections',
  'processImmediate',
  'runMicrotasks',
  'listOnTimeout',
  'processTimers',
  'emit',
]);

export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Sample i lasted until sample i+1; the last one gets the mean.
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const mean = profile.samples.length > 0 ? total / profile.samples.length : 0;
  const weight = (i: number) => Math.max(0, profile.timeDeltas[i + 1] ?? mean);

  const selfGroup = new Map<string, number>();
  const selfFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let wall = 0;
  profile.samples.forEach((id, i) => {
    const w = weight(i);
    wall += w;
    const node = byId.get(id);
    if (node === undefined) return;
    add(selfGroup, groupOf(node), w);
    add(selfFunction, labelOf(node), w);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current);
      if (frame === undefined || GENERIC.has(frame.callFrame.functionName) || !worthInclusive(frame)) continue;
      const label = labelOf(frame);
      if (seen.has(label)) continue;
      seen.add(label);
      add(inclusive, label, w);
    }
  });

  const shares = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, t]) => ({ name, percent: wall > 0 ? Math.round((1000 * t) / wall) / 10 : 0 }));
  return {
    file,
    wallSeconds: Math.round(wall / 1e4) / 100,
    samples: profile.samples.length,
    selfByGroup: shares(selfGroup),
    selfByFunction: shares(selfFunction),
    inclusive: shares(inclusive),
    loopDelay: readLoopDelay(file.replace(/\.cpuprofile$/, '.loop.json')),
  };
}

function readLoopDelay(file: string): ProfileSummary['loopDelay'] {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as ProfileSummary['loopDelay'];
}

export function renderProfile(title: string, s: ProfileSummary): string {
  const list = (items: readonly ProfileShare[]) =>
    items.map((i) => `    ${i.percent.toFixed(1).padStart(5)}%  ${i.name}`).join('\n');
  return [
    `CPU profile of the server, ${title} (${s.wallSeconds} s, ${s.samples} samples of the main thread; ${s.file})`,
    s.loopDelay === null
      ? '  event-loop delay: not recorded'
      : `  event-loop delay (stalls): mean ${s.loopDelay.meanMs} ms, p50 ${s.loopDelay.p50Ms} ms, p99 ${s.loopDelay.p99Ms} ms, max ${s.loopDelay.maxMs} ms`,
    '  self time by origin:',
    list(s.selfByGroup),
    '  self time by function:',
    list(s.selfByFunction),
    '  inclusive time (our code and framework entry points):',
    list(s.inclusive),
  ].join('\n');
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function groupOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (url === '') {
    if (functionName.startsWith('(')) return functionName;
    return `native: ${functionName}`;
  }
  if (url.startsWith('node:')) return 'node core';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `npm: ${pkg[1]}`;
  const ours = /\/dist\/((?:apps|libs)\/[^/]+)\//.exec(url);
  if (ours) return `ours: ${ours[1]}`;
  return url;
}

function labelOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  return `${name} ${shortUrl(url)}:${lineNumber + 1}`;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url;
}

/** Our own code, and the framework's per-request entry points. */
function worthInclusive(node: ProfileNode): boolean {
  const { url, functionName } = node.callFrame;
  if (/\/dist\/(apps|libs)\//.test(url)) return true;
  if (url.includes('/node_modules/')) {
    return /\b(transform|validate|handleRequest|routeHandler|onSendHook|serialize|transaction|sqliteTransaction|tryActivate|applyPipes|execute)\b/.test(
      functionName,
    );
  }
  return false;
}
