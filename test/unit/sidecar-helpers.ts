// Starting the real sidecar (sidecar/main.ts through tsx) for the sidecar suites, with the real
// demo model; and a raw stdio connection for sending malformed bytes.
import * as cp from 'node:child_process';
import * as path from 'node:path';
import { SidecarClient, type SidecarClientOptions } from '../../extension/client/sidecar-client';
import type { PromptPart } from '../../sidecar/protocol';
import { repoRoot } from '../helpers/shared';

/** A Qwen-style FIM prompt as the editor sends it: special tokens by name, the code as plain text. */
export const fim = (prefix: string, suffix: string): PromptPart[] => [{ special: 'fim_prefix' }, prefix, { special: 'fim_suffix' }, suffix, { special: 'fim_middle' }];

export const SIDECAR_ENTRY = path.join(repoRoot, 'sidecar', 'entry.ts');

export function startClient(opts: Partial<SidecarClientOptions> = {}): SidecarClient {
  const client = new SidecarClient({
    entry: SIDECAR_ENTRY, execArgv: ['--import', 'tsx'],
    onLog: process.env.FRSPEC_TEST_VERBOSE ? (l) => console.log(`      ${l}`) : undefined, ...opts,
  });
  client.start();
  return client;
}

/** The sidecar as a bare child process: write any bytes, read framed JSON-RPC messages back. */
export class RawSidecar {
  readonly proc: cp.ChildProcess;
  private buf = Buffer.alloc(0);
  private readonly messages: any[] = [];
  private waiters: Array<() => void> = [];

  /** `args`: the script and its arguments (default: the sidecar entry). */
  constructor(args: string[] = [SIDECAR_ENTRY]) {
    this.proc = cp.spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const len = Number(/Content-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString())?.[1]);
        if (this.buf.length < end + 4 + len) break;
        this.messages.push(JSON.parse(this.buf.subarray(end + 4, end + 4 + len).toString()));
        this.buf = this.buf.subarray(end + 4 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr!.resume();
  }

  writeBody(body: string): void {
    this.proc.stdin!.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  send(msg: object): void {
    this.writeBody(JSON.stringify({ jsonrpc: '2.0', ...msg }));
  }

  /** The next message matching `pred` (waits up to `ms`). */
  async next(pred: (m: any) => boolean, ms = 20000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no matching message within ${ms} ms; got ${JSON.stringify(this.messages).slice(0, 400)}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
