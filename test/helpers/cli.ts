// Runs the `frspec` command line in this process (the same main() the bundle runs), capturing its output.
import { PassThrough } from 'node:stream';
import { main } from '../../cli/frspec';

export async function frspec(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
  const out: Buffer[] = [], err: Buffer[] = [];
  io.stdout.on('data', (c) => out.push(c));
  io.stderr.on('data', (c) => err.push(c));
  io.stdin.end();
  const code = await main(args, io);
  return { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}

/** The JSON object a `--json` command prints as its last line. */
export const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
