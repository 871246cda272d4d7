// The sidecar process: hosts the native addon and serves the protocol (protocol.ts) on stdin/stdout.
// Started by the extension as `process.execPath dist/sidecar.js` with ELECTRON_RUN_AS_NODE=1, or alone with
// `frspec serve --stdio`. stdout carries only protocol messages; logs go to stderr.
import { rpc } from './jsonrpc';
import { FramedReader } from './framing';
import { Notify } from './protocol';
import { SidecarServer } from './server';

export function runSidecar(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<void> {
  const log = (line: string) => process.stderr.write(`[frspec sidecar ${process.pid}] ${line}\n`);
  // Anything that would print to stdout (a stray console.log) must not corrupt the protocol stream.
  console.log = console.info = (...a: unknown[]) => log(a.map(String).join(' '));
  const writer = new rpc.StreamMessageWriter(output);
  // Our own frame reader (framing.ts): messages that are not JSON-RPC get -32600 answers here; a framing
  // error (or a body that is not JSON) is answered and closes the connection, so the process exits and
  // the client restarts it instead of talking to a server that can no longer tell where messages start.
  const reader = new FramedReader(input, (answer) => void writer.write(answer as never));
  const conn = rpc.createMessageConnection(reader, writer);
  conn.onError(([error]: [Error, unknown, unknown]) => log(`bad message: ${error.message.split('\n')[0]}`));
  const server = new SidecarServer(conn, log);
  server.register();
  return new Promise((resolve) => {
    const finish = () => { conn.dispose(); resolve(); };
    conn.onNotification(Notify.exit, finish);
    // stdin closed (the editor went away, or a script piped its requests in): answer what is in flight first.
    conn.onClose(async () => {
      await new Promise((r) => setTimeout(r, 100));  // the last messages are still being decoded and queued
      for (let waited = 0; server.inFlight > 0 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      finish();
    });
    conn.listen();
    log('ready');
  });
}
