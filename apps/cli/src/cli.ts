import { auditCommand, AUDIT_HELP } from './commands/audit.js';
import { importCommand, IMPORT_HELP } from './commands/import.js';
import { projectionsCommand } from './commands/projections.js';
import { replayCommand, REPLAY_HELP } from './commands/replay.js';
import { CliContext } from './context.js';
import { EXIT, UsageError, type CliIo } from './io.js';

export const MAIN_HELP = `Usage: ledger <command> [options]     (npm run ledger -- <command> [options])

Commands:
  replay <customer_id>         a customer's events in order, with schema versions and metadata
  audit [--customer <id>]      replay the log and verify the read models against it
  projections status           active version, checkpoint, lag and state of each projection
  projections rebuild          blue/green rebuild of a projection, then switch to it
  import <file> --business <id>  customers, opening balances and history from NDJSON or CSV (resumable)

Every command takes --help. Configuration is the API's: the same environment variables
(DATA_DIR, EVENTSTORE_URL, MONGODB_URL, MONGODB_DB, ...), read with the same rules.

Exit status: 0 success, 1 findings (discrepancies, unknown customer), 2 bad arguments or
configuration, 3 failure.`;

/** Runs one CLI command; returns its exit status. Never calls process.exit, so tests can run it in-process. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  let context: CliContext | null = null;
  const lazyContext = () => (context ??= CliContext.fromEnv(io.env));
  try {
    switch (command) {
      case 'replay':
        return await replayCommand(rest, io, lazyContext);
      case 'audit':
        return await auditCommand(rest, io, lazyContext);
      case 'projections':
        return await projectionsCommand(rest, io, lazyContext);
      case 'import':
        return await importCommand(rest, io, lazyContext);
      case 'help':
      case '-h':
      case '--help':
        io.stdout.write(`${helpFor(rest[0]) ?? MAIN_HELP}\n`);
        return EXIT.ok;
      case undefined:
        io.stderr.write(`${MAIN_HELP}\n`);
        return EXIT.usage;
      default:
        io.stderr.write(`unknown command "${command}"\n\n${MAIN_HELP}\n`);
        return EXIT.usage;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`ledger ${command}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failure;
  } finally {
    await (context as CliContext | null)?.close();
  }
}

function helpFor(command: string | undefined): string | undefined {
  if (command === 'replay') return REPLAY_HELP;
  if (command === 'audit') return AUDIT_HELP;
  if (command === 'import') return IMPORT_HELP;
  return undefined;
}
