import { auditLedger, auditOneCustomer, type AuditReport, type CurrencyTotals, type Discrepancy } from '#ledger';
import type { CliContext } from '../context.js';
import { count, EXIT, line, type CliIo } from '../io.js';
import { parse } from '../parse.js';

export const AUDIT_HELP = `Usage: ledger audit [--customer <customer_id>] [--json]

Replays the event streams (every wallet- stream through the global log, in batches, or
one customer's stream) and recomputes balances and ledger history, with before/after
balances, using the pure domain and projection. Compares them with the active read
models (wallets, ledger entries and customer profiles, through the read-model port) at
the read models' checkpoint, and reports every discrepancy: customer, currency, what
the events say and what the read models say. Events after the checkpoint (not yet
projected) are counted as lag, not audited.

Options:
  --customer <id>  audit one customer
  --json           the full report as one JSON document
  -h, --help       this help

Exit status: 0 no discrepancy, 1 discrepancies found, 2 bad arguments or configuration,
3 the audit could not run.`;

export async function auditCommand(argv: readonly string[], io: CliIo, context: () => CliContext): Promise<number> {
  const args = parse(argv, { customer: { type: 'string' }, json: { type: 'boolean' } }, AUDIT_HELP, io);
  if (args === 'help') return EXIT.ok;
  if (args.positionals.length > 0) {
    io.stderr.write(`audit takes no positional arguments (did you mean --customer ${args.positionals[0]}?)\n\n${AUDIT_HELP}\n`);
    return EXIT.usage;
  }
  const ctx = context();
  const { version, store } = await ctx.activeReadModels();
  const deps = { eventStore: await ctx.events(), readModels: store, readModelVersion: version, logHead: await ctx.head() };
  const customerId = args.values.customer;
  const report = customerId !== undefined ? await auditOneCustomer(deps, customerId) : await auditLedger(deps);
  if (args.values.json) line(io.stdout, JSON.stringify(report, null, 2));
  else printReport(io, report, ctx.description);
  return report.ok ? EXIT.ok : EXIT.findings;
}

export function printReport(io: CliIo, report: AuditReport, description: string): void {
  const out = io.stdout;
  const scope = report.scope === 'all' ? 'all customers' : `customer ${report.scope.customerId}`;
  line(
    out,
    `audit of ${scope}: read models wallet v${report.readModelVersion} at checkpoint ${report.checkpoint ?? 'none'} (${description})`,
  );
  if (report.lag > 0)
    line(out, `note: ${count(report.lag)} event(s) after the checkpoint are not projected yet and were not audited`);
  for (const d of report.discrepancies) line(out, formatDiscrepancy(d));
  const t = report.totals;
  line(out, `customers: ${count(t.customers)}  events: ${count(t.events)}  ledger entries: ${count(t.entries)}`);
  line(out, `balances from events (minor units):       ${formatTotals(t.balancesFromEvents)}`);
  line(out, `balances from read models (minor units):  ${formatTotals(t.balancesFromReadModels)}`);
  line(out, `time: ${(report.durationMs / 1000).toFixed(2)} s (${count(report.eventsPerSecond)} events/s)`);
  line(
    out,
    report.ok
      ? 'result: OK, no discrepancy'
      : `result: FAILED, ${count(t.discrepancies)} discrepancy(ies) in ${count(t.customersWithDiscrepancies)} customer(s)`,
  );
}

export function formatDiscrepancy(d: Discrepancy): string {
  const where = [d.customerId, d.currency ?? '-', d.entryId].filter((part) => part !== undefined).join(' ');
  return `DISCREPANCY ${where} ${d.kind}${d.field ? ` [${d.field}]` : ''}: ${d.message} (events: ${show(d.expected)}; read models: ${show(d.actual)})`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function formatTotals(totals: CurrencyTotals): string {
  const entries = Object.entries(totals);
  return entries.length === 0 ? '-' : entries.map(([currency, amount]) => `${currency} ${amount}`).join('  ');
}
