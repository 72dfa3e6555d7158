import { parseArgs, type ParseArgsConfig } from 'node:util';
import { line, UsageError, type CliIo } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<T extends Options> {
  readonly values: { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };
  readonly positionals: string[];
}

/**
 * `node:util` parseArgs, strict, plus `-h/--help` on every command. Returns 'help' after
 * printing the help; throws UsageError on unknown options or missing values.
 */
export function parse<T extends Options>(argv: readonly string[], options: T, help: string, io: CliIo): Parsed<T> | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) {
    line(io.stdout, help);
    return 'help';
  }
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: values as Parsed<T>['values'], positionals };
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${help}`);
  }
}
