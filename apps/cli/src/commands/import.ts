import { SingleBar } from 'cli-progress';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import {
  LedgerImport,
  csvLineParser,
  deciderConfigOf,
  parseNdjsonLine,
  IMPORT_LIMITS,
  ImportLineError,
  type ImportLine,
  type ImportOperation,
  type LineOutcome,
} from '#ledger';
import type { CliContext } from '../context.js';
import { EXIT, count, duration, line, UsageError, type CliIo } from '../io.js';
import { parse } from '../parse.js';

export const IMPORT_HELP = `Usage: ledger import <file> --business <business_id> [options]

Imports customers, opening balances and history entries from NDJSON (.ndjson, .jsonl) or
CSV (.csv, with a header line), one record a line:

  {"type":"customer","ref":"acme-42","email":"ops@acme.test","name":"Acme","metadata":{}}
  {"type":"opening_balance","customer":"acme-42","currency":"USD","amount":100000}
  {"type":"entry","customer":"acme-42","entry_type":"debit","currency":"USD","amount":250,
   "reason":"API usage","occurred_at":"2024-05-01T10:00:00Z"}

  type,ref,email,name,customer,currency,amount,entry_type,reason,occurred_at
  customer,acme-42,ops@acme.test,Acme,,,,,,
  opening_balance,,,,acme-42,USD,100000,,,

"customer" names a ref defined by a customer line of the same file; "customer_id" names a
customer already in the ledger instead. Opening balances become credits with reason
"import:opening_balance"; history keeps its original time as occurred_at metadata (the
ledger's own clock orders the events). Every line's key comes from the import id and the
line number, so running the same file again (after an interruption, even SIGKILL) applies
each line exactly once; do so within IDEMPOTENCY_RETENTION_HOURS. Lines of one customer
apply in file order.

Options:
  --business <id>     the business the customers belong to (required)
  --format <f>        ndjson or csv (default: from the file name)
  --import-id <id>    names this import (default: a hash of the file's content)
  --report <path>     where refused lines go, one JSON object a line
                      (default: <file>.refused.ndjson)
  --in-flight <n>     lines in progress at once, 1..16384 (default 4096)
  --cache-customers <n>
                      customers kept in memory, 100..1000000 (default 1000); a file that
                      interleaves more customers than this reloads their histories often
  -h, --help          this help

Exit status: 0 every line applied (or already applied), 1 some lines refused (see the
report), 2 bad arguments or configuration, 3 failure (re-run to resume).`;

const IN_FLIGHT_DEFAULT = 4096;
const IN_FLIGHT_MAX = 16_384;
const CACHE_DEFAULT = 1000;
const CACHE_MAX = 1_000_000;
const PROGRESS_INTERVAL_MS = 200;
const BUSINESS_ID = /^[A-Za-z0-9_-]{1,64}$/;
const IMPORT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export async function importCommand(argv: readonly string[], io: CliIo, context: () => CliContext): Promise<number> {
  const args = parse(
    argv,
    { business: { type: 'string' }, format: { type: 'string' }, 'import-id': { type: 'string' }, report: { type: 'string' }, 'in-flight': { type: 'string' }, 'cache-customers': { type: 'string' } },
    IMPORT_HELP,
    io,
  );
  if (args === 'help') return EXIT.ok;
  if (args.positionals.length !== 1) throw new UsageError(`import takes exactly one file\n\n${IMPORT_HELP}`);
  const [file] = args.positionals;
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`no such file: ${file}`);
  const businessId = args.values.business;
  if (businessId === undefined || !BUSINESS_ID.test(businessId)) throw new UsageError('--business <business_id> is required (letters, digits, _ and -, up to 64)');
  const format = args.values.format ?? (/\.csv$/i.test(file) ? 'csv' : /\.(nd)?jsonl?$|\.ndjson$/i.test(file) ? 'ndjson' : undefined);
  if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format must be ndjson or csv (it could not be told from the file name)');
  const inFlightMax = args.values['in-flight'] === undefined ? IN_FLIGHT_DEFAULT : Number(args.values['in-flight']);
  if (!Number.isInteger(inFlightMax) || inFlightMax < 1 || inFlightMax > IN_FLIGHT_MAX) throw new UsageError(`--in-flight must be a whole number from 1 to ${IN_FLIGHT_MAX}`);
  const customersCachedMax = args.values['cache-customers'] === undefined ? CACHE_DEFAULT : Number(args.values['cache-customers']);
  if (!Number.isInteger(customersCachedMax) || customersCachedMax < 100 || customersCachedMax > CACHE_MAX) {
    throw new UsageError(`--cache-customers must be a whole number from 100 to ${CACHE_MAX}`);
  }
  if (args.values['import-id'] !== undefined && !IMPORT_ID.test(args.values['import-id'])) {
    throw new UsageError('--import-id must be 1 to 64 letters, digits, _, . and -');
  }

  // One pass to name the file by its content and count its lines (for the ETA); memory stays flat.
  const scan = await scanFile(file);
  const importId = args.values['import-id'] ?? scan.sha256.slice(0, 16);
  const reportPath = args.values.report ?? `${file}.refused.ndjson`;

  const ctx = context();
  const store = await ctx.events();
  const ledgerImport = new LedgerImport(store, deciderConfigOf(ctx.config), ctx.config, { importId, businessId, inFlightMax, customersCachedMax });
  const totals = { applied: 0, already: 0, refused: 0 };
  let report: WriteStream | null = null;
  const onOutcome = (outcome: LineOutcome) => {
    if (outcome.status !== 'refused') {
      if (outcome.status === 'applied') totals.applied += 1;
      else totals.already += 1;
    } else {
      totals.refused += 1;
      report ??= createWriteStream(reportPath, { flags: 'w' });
      report.write(`${JSON.stringify({ line: outcome.line, code: outcome.code, message: outcome.message })}\n`);
    }
  };

  line(io.stderr, `importing ${file} (${count(scan.lines)} lines, import id ${importId}) into ${ctx.description} for business ${businessId}`);
  const bar = new SingleBar({
    format: 'import |{bar}| {percentage}% | {value}/{total} lines | {rate} lines/s | ETA {eta_formatted} | refused {refused}',
    stream: io.stderr as NodeJS.WritableStream,
    // Not a terminal (CI, a log file): a plain line every few seconds instead of redrawing.
    noTTYOutput: true,
    notTTYSchedule: 5000,
    etaBuffer: 50,
    hideCursor: true,
  });
  const startedMs = performance.now();
  const done = () => totals.applied + totals.already + totals.refused;
  const rate = () => Math.round(done() / Math.max(0.001, (performance.now() - startedMs) / 1000));
  bar.start(Math.max(1, scan.records(format)), 0, { rate: 0, refused: 0 });
  const ticker = setInterval(() => bar.update(done(), { rate: rate(), refused: totals.refused }), PROGRESS_INTERVAL_MS);
  let failed = true;
  try {
    const lines = format === 'csv' ? csvLines(file) : { lines: readLines(file), parse: () => parseNdjsonLine };
    await ledgerImport.run(lines.lines, (text) => lines.parse()(text), onOutcome);
    failed = false;
  } finally {
    clearInterval(ticker);
    bar.update(done(), { rate: rate(), refused: totals.refused });
    bar.stop();
    const closing = report as WriteStream | null;
    if (closing !== null) await new Promise((resolve) => closing.end(resolve));
    const seconds = (performance.now() - startedMs) / 1000;
    line(
      io.stdout,
      `${failed ? 'stopped after' : 'imported'} ${count(done())} lines in ${duration(seconds)} (${count(rate())} lines/s): ` +
        `${count(totals.applied)} applied, ${count(totals.already)} already applied, ${count(totals.refused)} refused; ` +
        `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
    );
    if (totals.refused > 0) line(io.stdout, `refused lines: ${reportPath}`);
    if (failed) line(io.stderr, 'the import stopped on an error; run the same command again to resume (lines already applied are not applied twice)');
  }
  return totals.refused > 0 ? EXIT.findings : EXIT.ok;
}

interface Scan {
  readonly sha256: string;
  readonly lines: number;
  /** Lines that carry records: all of them, less the CSV header. */
  records(format: 'csv' | 'ndjson'): number;
}

async function scanFile(file: string): Promise<Scan> {
  const hash = createHash('sha256');
  let newlines = 0;
  let lastByte = -1;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines += 1;
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1];
  }
  const lines = newlines + (lastByte !== -1 && lastByte !== 10 ? 1 : 0);
  return { sha256: hash.digest('hex'), lines, records: (format) => (format === 'csv' ? Math.max(0, lines - 1) : lines) };
}

/**
 * The file's non-blank lines with their 1-based numbers, read with the stream's backpressure
 * (the import pulls the next line only when it has room). A line past the length limit is
 * handed on cut short, for the parser to refuse, rather than held in memory whole.
 */
async function* readLines(file: string): AsyncGenerator<ImportLine> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let number = 0;
  let overlong = false;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    pending += decoder.write(chunk);
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      number += 1;
      const text = overlong ? 'x'.repeat(IMPORT_LIMITS.lineLengthMax + 1) : pending.slice(0, newline);
      overlong = false;
      pending = pending.slice(newline + 1);
      if (text.trim() !== '') yield { number, text: text.endsWith('\r') ? text.slice(0, -1) : text };
      newline = pending.indexOf('\n');
    }
    if (pending.length > IMPORT_LIMITS.lineLengthMax) {
      overlong = true;
      pending = '';
    }
  }
  pending += decoder.end();
  if (overlong || pending.trim() !== '') yield { number: number + 1, text: overlong ? 'x'.repeat(IMPORT_LIMITS.lineLengthMax + 1) : pending };
}

/** CSV: the first line is the header; the parser of the records is made from it. */
function csvLines(file: string): { lines: AsyncIterable<ImportLine>; parse: () => (text: string) => ImportOperation } {
  let parser: ((text: string) => ImportOperation) | null = null;
  async function* records(): AsyncGenerator<ImportLine> {
    for await (const entry of readLines(file)) {
      if (parser === null) {
        try {
          parser = csvLineParser(entry.text);
        } catch (error) {
          if (error instanceof ImportLineError) throw new UsageError(`${file}: line ${entry.number} is not a usable CSV header: ${error.message}`);
          throw error;
        }
        continue;
      }
      yield entry;
    }
  }
  return {
    lines: records(),
    parse: () => {
      if (parser === null) throw new Error('CSV record before its header');
      return parser;
    },
  };
}
