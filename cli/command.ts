// What every `frspec` subcommand looks like, and the shared conventions: --help, a one-line reason and
// a non-zero exit on bad input, and with --json one machine-readable JSON object as the last line.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  /** Words that select the command, e.g. ['vocab', 'build']. */
  name: string[];
  summary: string;
  /** Full --help text (usage line first). */
  help: string;
  run(argv: string[], io: CommandIO): Promise<void>;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/** Bad input from the user: reported as one line, exit code 2. Other errors exit with 1. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs in strict mode with our errors; every command gets --help and --json. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}

export function intOption(value: string | undefined, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

export function floatOption(value: string | undefined, name: string, def: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got '${value}'`);
  return n;
}

/** Prints the JSON result as the last line of stdout. */
export function printJson(io: CommandIO, obj: unknown): void {
  io.stdout.write(JSON.stringify(obj) + '\n');
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}
