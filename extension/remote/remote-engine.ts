// A completion engine on another machine, for `frspec.engine: remote` (issue 14): llama.cpp's POST /infill
// (llama.cpp's server, our `frspec serve --http`) or OpenAI's POST /v1/completions with a suffix (vLLM,
// SGLang, Ollama's OpenAI API, our server). No `vscode` import: the editor side wires settings, the key from
// SecretStorage and the status bar to it.
// - Cancellation: an AbortSignal aborts the HTTP request; the server sees the connection close and stops
//   decoding (ours does within one step). A newer request also tells ours to drop the older one: every request
//   carries this window's X-Client-Id.
// - An unreachable server is reported once (onState) and not retried on every keystroke: requests fail fast
//   until a backoff of 1 s, 4 s, 15 s, 30 s has passed; the first success clears it. A refused key stops
//   requests until the settings change (a new RemoteEngine).
// - Every completion carries the measured round-trip time (the status bar shows remote latency).

export type RemoteDialect = 'llama.cpp' | 'openai';

export interface RemoteOptions {
  /** Base URL, e.g. http://gpu-box:8012 (a trailing /v1 is fine for OpenAI servers). */
  endpoint: string;
  apiKey?: string;
  /** 'auto' (default): llama.cpp when GET /props answers, else OpenAI. */
  dialect?: RemoteDialect | 'auto';
  /** The `model` field of OpenAI requests (servers with one model ignore it). */
  model?: string;
  /** This editor window: the server's latest-wins unit. */
  clientId: string;
  /** Longest wait for one response (default 10 s). */
  timeoutMs?: number;
  onState?: (s: RemoteState) => void;
  /** For tests: the fetch to use (default the global one). */
  fetch?: typeof fetch;
}

export type RemoteState =
  | { kind: 'ok'; latencyMs: number }
  | { kind: 'unreachable'; message: string; retryAt: number }
  | { kind: 'unauthorized'; message: string };

export interface RemoteRequest {
  prefix: string;
  suffix: string;
  /** Context from other files (llama.cpp's input_extra); the OpenAI dialect has no place for it. */
  chunks: { path: string; text: string }[];
  maxTokens: number;
  stop: string[];
  /** llama.cpp: stop at a line indented less than this (the cursor's indentation). */
  nIndent?: number;
  /** llama.cpp: once a line is complete, stop after this many ms of decoding. */
  timeBudgetMs?: number;
  signal?: AbortSignal;
}

export interface RemoteResult {
  text: string;
  /** Request sent → response parsed, on this machine. */
  latencyMs: number;
  stop: string;
  server: { promptTokens?: number; tokens?: number; promptMs?: number; decodeMs?: number; mode?: string; tau?: number };
}

export interface RemoteInfo { dialect: RemoteDialect; model: string; contextSize?: number; decoding?: string }

const BACKOFF_MS = [1000, 4000, 15000, 30000];

export class RemoteError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class RemoteEngine {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private dialect?: RemoteDialect;
  private failures = 0;
  private retryAt = 0;
  private refused?: string;
  state: RemoteState | undefined;

  constructor(private readonly opts: RemoteOptions) {
    let base = opts.endpoint.trim().replace(/\/+$/, '');
    if (!/^https?:\/\//.test(base)) throw new RemoteError(0, `the endpoint must start with http:// or https://, got '${opts.endpoint}'`);
    if (base.endsWith('/v1')) base = base.slice(0, -3);
    this.base = base;
    this.fetchFn = opts.fetch ?? fetch;
    if (opts.dialect && opts.dialect !== 'auto') this.dialect = opts.dialect;
  }

  /** What the server runs, and which API to speak (GET /props for llama.cpp and ours, else GET /v1/models). */
  async probe(signal?: AbortSignal): Promise<RemoteInfo> {
    if (this.dialect !== 'openai') {
      const props = await this.call('GET', '/props', undefined, signal).catch((e) => {
        if (e instanceof RemoteError && (e.status === 404 || e.status === 405) && this.dialect === undefined) return undefined;
        throw e;
      });
      if (props) {
        this.dialect = 'llama.cpp';
        const p = props as { model_path?: string; default_generation_settings?: { n_ctx?: number; model?: string }; frspec?: { decoding?: { active?: string } } };
        return { dialect: 'llama.cpp', model: p.default_generation_settings?.model ?? p.model_path ?? 'unknown', contextSize: p.default_generation_settings?.n_ctx, decoding: p.frspec?.decoding?.active };
      }
    }
    const models = await this.call('GET', '/v1/models', undefined, signal) as { data?: { id: string }[] };
    this.dialect = 'openai';
    return { dialect: 'openai', model: models.data?.[0]?.id ?? this.opts.model ?? 'unknown' };
  }

  /**
   * One completion, or undefined when it was cancelled, superseded, or skipped because the server is in
   * backoff. Throws RemoteError for a refused key or a request the server calls bad.
   */
  async complete(req: RemoteRequest): Promise<RemoteResult | undefined> {
    if (this.refused) throw new RemoteError(401, this.refused);
    if (Date.now() < this.retryAt) return undefined;  // unreachable: no retry storm while typing
    if (!this.dialect) {
      try { await this.probe(req.signal); } catch (e) { if (isAbort(e)) return undefined; throw e; }
    }
    const t0 = performance.now();
    try {
      if (this.dialect === 'llama.cpp') {
        const r = await this.call('POST', '/infill', {
          input_prefix: req.prefix, input_suffix: req.suffix,
          input_extra: req.chunks.map((c) => ({ filename: c.path, text: c.text })),
          n_predict: req.maxTokens, stop: req.stop, cache_prompt: true, stream: false,
          ...(req.nIndent ? { n_indent: req.nIndent } : {}), ...(req.timeBudgetMs ? { t_max_predict_ms: req.timeBudgetMs } : {}),
        }, req.signal) as LlamaResponse;
        return this.done(t0, {
          text: r.content ?? '', stop: r.stop_type ?? 'unknown',
          server: { promptTokens: r.tokens_evaluated, tokens: r.timings?.predicted_n, promptMs: r.timings?.prompt_ms, decodeMs: r.timings?.predicted_ms, mode: r.frspec?.mode, tau: r.frspec?.tau },
        });
      }
      const r = await this.call('POST', '/v1/completions', {
        model: this.opts.model ?? 'default', prompt: req.prefix, suffix: req.suffix, max_tokens: req.maxTokens,
        stop: req.stop.length ? req.stop : undefined, temperature: 0, stream: false,
      }, req.signal) as OpenAiResponse;
      return this.done(t0, {
        text: r.choices?.[0]?.text ?? '', stop: r.choices?.[0]?.finish_reason ?? 'unknown',
        server: { promptTokens: r.usage?.prompt_tokens, tokens: r.usage?.completion_tokens },
      });
    } catch (e) {
      if (isAbort(e) || (e instanceof RemoteError && e.status === 409)) return undefined;  // cancelled or superseded
      throw e;
    }
  }

  private done(t0: number, r: Omit<RemoteResult, 'latencyMs'>): RemoteResult {
    const latencyMs = performance.now() - t0;
    this.setState({ kind: 'ok', latencyMs });
    return { ...r, latencyMs };
  }

  private async call(method: 'GET' | 'POST', route: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 10_000);
    const headers: Record<string, string> = { 'X-Client-Id': this.opts.clientId, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.opts.apiKey) headers.Authorization = `Bearer ${this.opts.apiKey}`;
    let res: Response;
    try {
      res = await this.fetchFn(this.base + route, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      this.unreachable(timeout.aborted ? `no answer from ${this.base} within ${this.opts.timeoutMs ?? 10_000} ms` : `cannot reach ${this.base}: ${causeOf(e)}`);
      throw new RemoteError(0, (this.state as { message: string }).message);
    }
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { /* reported below */ }
    if (res.status === 401 || res.status === 403) {
      this.refused = `${this.base} refused the API key (${res.status}): set it with "FR-Spec: Set Remote API Key…"`;
      this.setState({ kind: 'unauthorized', message: this.refused });
      throw new RemoteError(res.status, this.refused);
    }
    if (res.status >= 500 || res.status === 429) {
      this.unreachable(`${this.base} answered ${res.status}: ${errorMessage(json) ?? text.slice(0, 200)}`);
      throw new RemoteError(res.status, (this.state as { message: string }).message);
    }
    if (!res.ok) throw new RemoteError(res.status, `${method} ${route}: ${res.status} ${errorMessage(json) ?? text.slice(0, 200)}`);
    if (json === undefined) throw new RemoteError(res.status, `${method} ${route}: the answer is not JSON`);
    this.failures = 0;
    this.retryAt = 0;
    return json;
  }

  private unreachable(message: string): void {
    const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures++;
    this.retryAt = Date.now() + wait;
    this.setState({ kind: 'unreachable', message, retryAt: this.retryAt });
  }

  private setState(s: RemoteState): void {
    const changed = !this.state || this.state.kind !== s.kind;
    this.state = s;
    // One report per transition (ok → unreachable → ok); latency updates ride on 'ok' too.
    if (changed || s.kind === 'ok') this.opts.onState?.(s);
  }
}

interface LlamaResponse {
  content?: string; stop_type?: string; tokens_evaluated?: number;
  timings?: { predicted_n?: number; prompt_ms?: number; predicted_ms?: number };
  frspec?: { mode?: string; tau?: number };
}
interface OpenAiResponse { choices?: { text?: string; finish_reason?: string }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } }

function isAbort(e: unknown): boolean {
  return (e as Error)?.name === 'AbortError';
}

function causeOf(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).message;
}

function errorMessage(json: unknown): string | undefined {
  const m = (json as { error?: { message?: unknown } | string })?.error;
  return typeof m === 'string' ? m : typeof m?.message === 'string' ? m.message : undefined;
}
