// frspec serve --stdio — runs the sidecar (native/sidecar) on stdin/stdout: the same process the VS Code
// extension starts, for other editors, scripts and debugging. The protocol is in docs/protocol.md.
import { type Command, parseCommandArgs, UsageError } from '../command';
import { runSidecar } from '../../native/sidecar/main';

export const serve: Command = {
  name: ['serve'],
  summary: 'serve completions over JSON-RPC on stdin/stdout (the editor sidecar)',
  help: `usage: frspec serve --stdio

Serves the sidecar protocol (JSON-RPC 2.0 with Content-Length framing, docs/protocol.md) on stdin and
stdout until stdin closes or an \`exit\` notification arrives: initialize (load a model), complete
(fill-in-the-middle or plain prompts, streamed, newest request wins), cancel, stats, calibrate,
vocab/build, vocab/load, shutdown. Logs go to stderr.`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { stdio: { type: 'boolean' } });
    if (!values.stdio) throw new UsageError('only --stdio is supported: frspec serve --stdio');
    await runSidecar(process.stdin, process.stdout);
    process.exit(0);  // the engine's worker threads must not keep a finished server alive
  },
};
