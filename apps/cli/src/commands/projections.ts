import { projectionStatus, rebuildProjection, type RebuildProgress } from '#ledger';
import { WALLET_PROJECTION } from '#read-models';
import type { CliContext } from '../context.js';
import { count, duration, EXIT, line, table, type CliIo, type OutputStream } from '../io.js';
import { parse } from '../parse.js';

export const PROJECTIONS_HELP = `Usage: ledger projections <command>

Commands:
  status   active version, checkpoint, lag and state of every projection
  rebuild  build the next version beside the live one and switch to it (blue/green)

Run "ledger projections <command> --help" for a command's options.`;

export const STATUS_HELP = `Usage: ledger projections status [--json]

Per projection: name, active version, its checkpoint (global position of the last event
applied), lag behind the head of the log (events), and state: live, or rebuilding (with
the version being built, its own checkpoint and lag).

Options:
  --json      the status as JSON
  -h, --help  this help`;

export const REBUILD_HELP = `Usage: ledger projections rebuild [--name wallet] [--keep-old]

Blue/green rebuild. While version N stays active (served by the API and fed by the live
projector), builds version N+1 into tables/collections of its own from the start of the
log, with the current read-model layout. When N+1 is within a small lag of the head, a
final catch-up brings it to the head and the projection registry switches N+1 active in
one conditional write; running API and projector processes follow within a second. Then
N is dropped (after a few seconds, so running processes have moved off it).

Resumable: a rebuild that is stopped or killed (even with SIGKILL) continues from N+1's
own checkpoint when run again. Only one rebuild runs at a time.

Options:
  --name <name>  projection to rebuild (default and only one: wallet)
  --keep-old     keep version N's tables/collections after the switch
  --batch-size <n>  events read and applied per transaction (default 10000)
  --drop-after <s>  seconds between the switch and dropping version N (default 5): time
                    for running processes, which look every second, to move off it
  -h, --help     this help

Progress: a bar with events/s and ETA on a terminal, a plain line every 2 s otherwise.`;

export async function projectionsCommand(argv: readonly string[], io: CliIo, context: () => CliContext): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'status':
      return statusCommand(rest, io, context);
    case 'rebuild':
      return rebuildCommand(rest, io, context);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      (sub === undefined ? io.stderr : io.stdout).write(`${PROJECTIONS_HELP}\n`);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    default:
      io.stderr.write(`unknown projections command "${sub}"\n\n${PROJECTIONS_HELP}\n`);
      return EXIT.usage;
  }
}

async function statusCommand(argv: readonly string[], io: CliIo, context: () => CliContext): Promise<number> {
  const args = parse(argv, { json: { type: 'boolean' } }, STATUS_HELP, io);
  if (args === 'help') return EXIT.ok;
  const ctx = context();
  const statuses = await projectionStatus(await ctx.readModelBackend(), await ctx.head());
  if (args.values.json) {
    line(io.stdout, JSON.stringify(statuses, null, 2));
    return EXIT.ok;
  }
  const rows = [['projection', 'active', 'checkpoint', 'lag (events)', 'state']];
  for (const s of statuses) {
    const state =
      s.rebuilding === null
        ? s.state
        : `rebuilding v${s.rebuilding.version} (checkpoint ${s.rebuilding.checkpoint ?? 'none'}, lag ${count(s.rebuilding.lag)})`;
    rows.push([s.name, `v${s.activeVersion}`, s.checkpoint === null ? 'none' : String(s.checkpoint), count(s.lag), state]);
  }
  line(io.stdout, table(rows));
  line(io.stdout, `(${ctx.description})`);
  return EXIT.ok;
}

async function rebuildCommand(argv: readonly string[], io: CliIo, context: () => CliContext): Promise<number> {
  const args = parse(
    argv,
    {
      name: { type: 'string' },
      'keep-old': { type: 'boolean' },
      'batch-size': { type: 'string' },
      'drop-after': { type: 'string' },
    },
    REBUILD_HELP,
    io,
  );
  if (args === 'help') return EXIT.ok;
  const name = args.values.name ?? WALLET_PROJECTION.name;
  if (name !== WALLET_PROJECTION.name || args.positionals.length > 0) {
    io.stderr.write(
      `${name !== WALLET_PROJECTION.name ? `unknown projection "${name}"` : 'rebuild takes no positional arguments'}\n\n${REBUILD_HELP}\n`,
    );
    return EXIT.usage;
  }
  const batchSize = args.values['batch-size'] === undefined ? undefined : Number(args.values['batch-size']);
  if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 100_000)) {
    io.stderr.write('--batch-size must be a whole number from 1 to 100000\n');
    return EXIT.usage;
  }
  const dropAfter = args.values['drop-after'] === undefined ? undefined : Number(args.values['drop-after']);
  if (dropAfter !== undefined && (!Number.isFinite(dropAfter) || dropAfter < 0 || dropAfter > 3600)) {
    io.stderr.write('--drop-after must be a number of seconds from 0 to 3600\n');
    return EXIT.usage;
  }
  const ctx = context();
  const progress = new ProgressReporter(io.stdout);
  const result = await rebuildProjection(
    { eventStore: await ctx.events(), backend: await ctx.readModelBackend(), logHead: await ctx.head() },
    {
      name,
      keepOld: args.values['keep-old'] ?? false,
      batchSize,
      dropDelayMs: dropAfter === undefined ? undefined : dropAfter * 1000,
      onProgress: (p) => progress.update(p),
      log: (message) => {
        progress.clear();
        line(io.stdout, message);
      },
    },
  );
  progress.clear();
  line(
    io.stdout,
    `rebuilt ${result.name} v${result.to}${result.resumed ? ` (resumed from position ${result.startedFrom ?? 'start'})` : ''}: ` +
      `${count(result.events)} events in ${duration(result.buildMs / 1000)} (${count(result.eventsPerSecond)} events/s); ` +
      `active v${result.to}, v${result.from} ${result.droppedOld ? 'dropped' : 'kept'}`,
  );
  return EXIT.ok;
}

/** A bar redrawn in place on a terminal; a plain line every 2 s otherwise. */
class ProgressReporter {
  private lastPrint = 0;
  private drawn = false;

  constructor(private readonly out: OutputStream) {}

  update(p: RebuildProgress): void {
    const now = Date.now();
    const tty = this.out.isTTY === true;
    const final = p.phase === 'switched' || p.phase === 'dropped-old';
    if (final) return;
    if (now - this.lastPrint < (tty ? 100 : 2000)) return;
    this.lastPrint = now;
    const fraction = p.total > 0 ? Math.min(p.done / p.total, 1) : 1;
    const eta = p.etaSeconds === null ? '?' : duration(p.etaSeconds);
    const stats = `${count(p.done)}/${count(p.total)} events, ${count(p.eventsPerSecond)} events/s, ETA ${eta}`;
    if (tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.out.write(
        `\r\x1b[2Kv${p.version} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${stats}`,
      );
      this.drawn = true;
    } else {
      line(this.out, `rebuild v${p.version}: ${stats} (${(fraction * 100).toFixed(0)}%)`);
    }
  }

  clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
