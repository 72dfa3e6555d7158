import { replayCustomer, type ReplayedEvent } from '#ledger';
import { WALLET_EVENT_SCHEMA_VERSIONS } from '#domain';
import type { CliContext } from '../context.js';
import { EXIT, line, type CliIo } from '../io.js';
import { parse } from '../parse.js';

export const REPLAY_HELP = `Usage: ledger replay <customer_id> [--json]

Prints a customer's events in stream order: revision, global position, type, the
schema version each was stored with, its data in the current shape (older versions
are upcast, and marked so) and its metadata: when it was recorded and happened, the
idempotency key, correlation id, causation id and acting key's fingerprint.

Options:
  --json      one JSON document: { customerId, streamId, events: [...] }
  -h, --help  this help

Exit status: 0 printed, 1 no such customer, 2 bad arguments or configuration.`;

export async function replayCommand(argv: readonly string[], io: CliIo, context: () => CliContext): Promise<number> {
  const args = parse(argv, { json: { type: 'boolean' } }, REPLAY_HELP, io);
  if (args === 'help') return EXIT.ok;
  if (args.positionals.length !== 1) return usage(io, 'replay takes exactly one customer id');
  const [customerId] = args.positionals;
  const ctx = context();
  const events = await replayCustomer(await ctx.events(), customerId);
  if (args.values.json) {
    line(io.stdout, JSON.stringify({ customerId, streamId: `wallet-${customerId}`, events }, null, 2));
  } else if (events.length > 0) {
    line(io.stdout, `customer ${customerId}: stream wallet-${customerId}, ${events.length} event(s) (${ctx.description})`);
    for (const event of events) printEvent(io, event);
  }
  if (events.length === 0) {
    io.stderr.write(`no events for customer ${customerId}\n`);
    return EXIT.findings;
  }
  return EXIT.ok;
}

function printEvent(io: CliIo, e: ReplayedEvent): void {
  const current = (WALLET_EVENT_SCHEMA_VERSIONS as Record<string, number>)[e.type];
  const version = e.upcast ? `v${e.schemaVersion} (upcast to v${current})` : `v${e.schemaVersion}`;
  line(io.stdout);
  line(io.stdout, `#${e.revision}  position ${e.position}  ${e.type} ${version}`);
  if (e.error !== undefined) line(io.stdout, `  !! ${e.error}`);
  line(io.stdout, `  data: ${JSON.stringify(e.data)}`);
  const m = e.metadata;
  const parts = [
    `recorded ${m.recordedAt}`,
    `occurred ${m.occurredAt ?? '-'}`,
    `idempotency key ${m.idempotencyKey ?? '-'}`,
    `correlation ${m.correlationId ?? '-'}`,
    `causation ${m.causationId ?? '-'}`,
    `actor ${m.actor ?? '-'}`,
  ];
  line(io.stdout, `  meta: ${parts.join(' | ')}`);
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(`${message}\n\n${REPLAY_HELP}\n`);
  return EXIT.usage;
}
