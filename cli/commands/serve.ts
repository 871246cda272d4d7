// frspec serve --stdio — runs the sidecar (sidecar) on stdin/stdout: the same process the VS Code
// extension starts, for other editors, scripts and debugging. The protocol is in docs/protocol.md.
// frspec serve --http — the same engine behind llama.cpp- and OpenAI-compatible HTTP endpoints
// (sidecar/http), for llama.vscode, Continue and a team's shared server.
import { type Command, intOption, parseCommandArgs, UsageError } from '../command';
import { runSidecar } from '../../sidecar/main';
import { CompletionHost } from '../../sidecar/http/host';
import { FrspecHttpServer, isLoopback, ROUTES } from '../../sidecar/http/server';

export const serve: Command = {
  name: ['serve'],
  summary: 'serve completions: JSON-RPC on stdin/stdout (the editor sidecar) or HTTP (llama.cpp/OpenAI compatible)',
  help: `usage: frspec serve --stdio
       frspec serve --http --model M.gguf [--draft D.gguf | --eagle E.gguf] [--vocab V.frv] [options]

--stdio serves the sidecar protocol (JSON-RPC 2.0 with Content-Length framing, docs/protocol.md) on stdin
and stdout until stdin closes or an \`exit\` notification arrives: initialize (load a model), complete
(fill-in-the-middle or plain prompts, streamed, newest request wins), cancel, stats, calibrate,
vocab/build, vocab/load, shutdown. Logs go to stderr.

--http serves the model over HTTP (sidecar/http/README.md): llama.cpp's POST /infill and
/completion (SSE streaming with stream: true), GET /health and /props; OpenAI's POST /v1/completions and
GET /v1/models; GET /metrics (Prometheus). Greedy decoding, FR-Spec speculative with --draft or --eagle
(used once measured faster than plain here). A newer request from the same client (API key + address +
X-Client-Id header) cancels its older one. Stops on Ctrl-C.

options (--http):
  --model M.gguf        the target model (required)
  --draft D.gguf        a draft model with the same tokenizer (speculative decoding)
  --eagle E.gguf        an EAGLE head for the target (instead of --draft)
  --vocab V.frv         the FR-Spec draft vocabulary (frspec vocab build); --top-k K of its ids (default 32768)
  --host H              address to bind (default 127.0.0.1); anything but loopback requires --api-key
  --port P              port (default 8012, llama.vscode's default endpoint)
  --api-key KEY         require Authorization: Bearer KEY on every endpoint but /health
                        (or set FRSPEC_API_KEY, which keeps the key out of the process list)
  --threads N           engine threads (default 0: all cores)
  --context N           KV cache size in tokens (default 4096)
  --max-body-bytes N    largest request body (default 2097152; larger gets 413)
  --request-timeout-ms N  a client must send its whole request within N ms (default 30000; else 408)
  --max-waiting N       clients that may wait for the engine at once (default 256; more get 503)
  --no-calibrate        do not measure plain vs speculative decoding at start (speculation stays off)`,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      stdio: { type: 'boolean' }, http: { type: 'boolean' },
      model: { type: 'string' }, draft: { type: 'string' }, eagle: { type: 'string' }, vocab: { type: 'string' },
      'top-k': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'api-key': { type: 'string' },
      threads: { type: 'string' }, context: { type: 'string' }, 'max-body-bytes': { type: 'string' },
      'request-timeout-ms': { type: 'string' }, 'max-waiting': { type: 'string' }, 'no-calibrate': { type: 'boolean' },
    });
    if (values.stdio && values.http) throw new UsageError('choose one of --stdio and --http');
    if (values.stdio) {
      await runSidecar(process.stdin, process.stdout);
      process.exit(0);  // the engine's worker threads must not keep a finished server alive
    }
    if (!values.http) throw new UsageError('expected --stdio or --http (see frspec serve --help)');
    if (!values.model) throw new UsageError('--model M.gguf is required');
    if (values.draft && values.eagle) throw new UsageError('--draft and --eagle exclude each other');
    const host = values.host ?? '127.0.0.1';
    const apiKey = values['api-key'] ?? process.env.FRSPEC_API_KEY ?? undefined;
    if (!isLoopback(host) && !apiKey) throw new UsageError(`refusing to listen on ${host} without an API key: pass --api-key KEY (or FRSPEC_API_KEY), or bind 127.0.0.1`);
    const port = intOption(values.port, 'port', 8012, 0, 65535);
    const requestTimeout = intOption(values['request-timeout-ms'], 'request-timeout-ms', 30_000, 100, 3_600_000);
    const log = (line: string) => io.stderr.write(`[frspec serve] ${line}\n`);
    const engine = await CompletionHost.load({
      model: values.model, draft: values.draft, eagle: values.eagle, vocab: values.vocab,
      topK: values['top-k'] !== undefined ? intOption(values['top-k'], 'top-k', 32768, 1) : undefined,
      threads: intOption(values.threads, 'threads', 0, 0, 1024),
      contextSize: intOption(values.context, 'context', 4096, 256, 131072),
      calibrate: !values['no-calibrate'],
    }, { log, maxWaiting: intOption(values['max-waiting'], 'max-waiting', 256, 1, 100_000) });
    const server = new FrspecHttpServer(engine, {
      host, port, apiKey, maxBodyBytes: intOption(values['max-body-bytes'], 'max-body-bytes', 2 * 1024 * 1024, 1024),
      requestTimeoutMs: requestTimeout, headersTimeoutMs: Math.min(10_000, requestTimeout), log,
    });
    const addr = await server.listen();
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    log(`listening on http://${shown}:${addr.port} (${Object.keys(ROUTES).join(' ')})${apiKey ? ', API key required' : ''}`);
    // One line on stdout for scripts and tests: where to connect.
    io.stdout.write(JSON.stringify({ ok: true, url: `http://${shown}:${addr.port}`, model: values.model, decoding: engine.session.decoder.summary }) + '\n');
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    log('shutting down');
    await server.close();
    await engine.close();
    process.exit(0);
  },
};
