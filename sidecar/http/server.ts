// `frspec serve --http`: llama.cpp-compatible and OpenAI-compatible completion endpoints over Node's http
// module, on the same engine and scheduler code as the editor's sidecar. Safe by default: binds loopback;
// any other address needs an API key (Authorization: Bearer KEY, compared in constant time). Every request
// gets an answer: a JSON error with a status and a readable message for anything bad (unknown path 404,
// wrong method 405, no or wrong key 401, body not JSON 400, body too large 413, a slow client 408, engine
// busy 503, superseded by the same client's newer request 409).
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RequestContext } from './context';
import { errorBody, HttpError } from './errors';
import type { CompletionHost } from './host';
import * as llama from './llama-api';
import * as openai from './openai-api';

export interface HttpOptions {
  host?: string;
  port?: number;
  apiKey?: string;
  /** Largest request body accepted (default 2 MiB: a prompt window plus extra context is far less). */
  maxBodyBytes?: number;
  /** A client must send its headers within this time, and its whole request within requestTimeoutMs. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * Bytes of a refused (too large) body read and dropped before the 413 goes out. Closing a socket that still has
 * unread bytes makes the kernel reset it, and a client still sending then sees EPIPE or ECONNRESET instead of our
 * answer; reading the rest first (as nginx's lingering close and Go's server do) lets it read the 413. A body
 * past this cap, or a client that stalls (requestTimeoutMs), just loses its connection.
 */
const DISCARD_LIMIT_BYTES = 64 << 20;

/** Reads and drops `req`'s body until it ends, closes, fails or passes `maxBytes`. */
function discardBody(req: http.IncomingMessage, maxBytes: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      req.off('data', onData);
      resolve();
    };
    const onData = (c: Buffer) => {
      seen += c.length;
      if (seen > maxBytes) { req.pause(); finish(); }
    };
    if (req.complete || req.destroyed) { resolve(); return; }
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.once('error', finish);
    req.resume();
  });
}

type Handler = (ctx: RequestContext) => Promise<void>;
interface Route { GET?: Handler; POST?: Handler; public?: boolean }

const metricsRoute: Handler = async (ctx) => {
  const h = ctx.host;
  const snap = h.stats.snapshot(h.session.decoder.summary, h.session.vocab);
  const mem = process.memoryUsage();
  ctx.text(200, h.metrics.render({
    frspec_queue_waiting_clients: { help: 'Clients waiting for the engine.', value: h.queue.depth },
    frspec_speculative_active: { help: '1 when completions decode speculatively (measured faster than plain here), else 0.', value: h.session.decoder.summary.active === 'speculative' ? 1 : 0 },
    frspec_calibrated_plain_tokens_per_second: { help: 'Plain greedy decoding speed measured on this machine (0 until measured).', value: snap.calibration?.plainTokensPerSecond ?? 0 },
    frspec_calibrated_decoder_tokens_per_second: { help: 'The configured decoder on the same prompt (0 until measured).', value: snap.calibration?.decoderTokensPerSecond ?? 0 },
    frspec_recent_tokens_per_second: { help: 'Decode speed over the recent completions.', value: snap.recent.tokensPerSecond },
    frspec_process_resident_memory_bytes: { help: 'Resident set size of the server process.', value: mem.rss },
    frspec_process_heap_used_bytes: { help: 'V8 heap in use.', value: mem.heapUsed },
  }), 'text/plain; version=0.0.4; charset=utf-8');
};

export const ROUTES: Record<string, Route> = {
  '/health': { GET: llama.health, public: true },
  '/v1/health': { GET: llama.health, public: true },
  '/props': { GET: llama.props },
  '/infill': { POST: llama.infill },
  '/completion': { POST: llama.completion },
  '/completions': { POST: llama.completion },
  '/v1/completions': { POST: openai.completions },
  '/v1/models': { GET: openai.models },
  '/models': { GET: openai.models },
  '/metrics': { GET: metricsRoute },
};

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Equal-time comparison of a presented key with the configured one (hashing first makes the lengths equal). */
export function keyMatches(presented: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export class FrspecHttpServer {
  readonly server: http.Server;
  private readonly opts: Required<Omit<HttpOptions, 'apiKey' | 'log'>> & Pick<HttpOptions, 'apiKey'>;
  private readonly log: (line: string) => void;

  constructor(readonly host: CompletionHost, opts: HttpOptions = {}) {
    this.opts = {
      host: opts.host ?? '127.0.0.1', port: opts.port ?? 8012, apiKey: opts.apiKey || undefined,
      maxBodyBytes: opts.maxBodyBytes ?? 2 * 1024 * 1024, headersTimeoutMs: opts.headersTimeoutMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
    };
    this.log = opts.log ?? (() => undefined);
    if (!isLoopback(this.opts.host) && !this.opts.apiKey) {
      throw new HttpError(500, `refusing to listen on ${this.opts.host} without an API key: pass --api-key KEY (clients send Authorization: Bearer KEY), or bind 127.0.0.1`);
    }
    this.server = http.createServer({
      headersTimeout: this.opts.headersTimeoutMs, requestTimeout: this.opts.requestTimeoutMs,
      // How often Node checks those two timeouts (its default, 30 s, would let slow clients linger).
      connectionsCheckingInterval: Math.min(1000, this.opts.headersTimeoutMs),
    }, (req, res) => void this.handle(req, res));
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => { this.server.close(() => r()); this.server.closeAllConnections(); });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const pathname = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
    const route = ROUTES[pathname];
    res.once('finish', () => this.host.metrics.request(route ? pathname : 'unknown', res.statusCode));
    const aborter = new AbortController();
    res.once('close', () => { if (!res.writableFinished) aborter.abort(); });
    let ctx: RequestContext | undefined;
    try {
      if (!route) throw new HttpError(404, `no such endpoint: ${pathname} (endpoints: ${Object.keys(ROUTES).join(', ')})`);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const handler = method === 'GET' || method === 'POST' ? route[method] : undefined;
      if (!handler) {
        const allow = (['GET', 'POST'] as const).filter((m) => route[m]).join(', ');
        throw new HttpError(405, `${req.method} is not allowed on ${pathname} (use ${allow})`, { Allow: allow });
      }
      const presented = this.bearer(req);
      if (this.opts.apiKey && !route.public && (presented === undefined || !keyMatches(presented, this.opts.apiKey))) {
        throw new HttpError(401, presented === undefined ? 'missing API key: send Authorization: Bearer KEY' : 'invalid API key', { 'WWW-Authenticate': 'Bearer' });
      }
      const body = req.method === 'POST' ? await this.readJson(req) : undefined;
      ctx = new RequestContext(this.host, this.clientOf(req, presented), aborter.signal, res, body);
      await handler(ctx);
    } catch (e) {
      this.fail(res, ctx, e, pathname);
    }
    if (performance.now() - started > 60_000) this.log(`${req.method} ${pathname} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  private bearer(req: http.IncomingMessage): string | undefined {
    const h = req.headers.authorization;
    const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
    return m ? m[1].trim() : undefined;
  }

  /**
   * Who a request is from, for latest-wins: the key it presented (hashed), its address and, when sent, an
   * X-Client-Id header (one per editor window, so two windows behind one address and key do not cancel each other).
   */
  private clientOf(req: http.IncomingMessage, key: string | undefined): string {
    const id = req.headers['x-client-id'];
    const keyTag = this.opts.apiKey && key ? crypto.createHash('sha256').update(key).digest('hex').slice(0, 16) : '-';
    return `${keyTag}|${req.socket.remoteAddress ?? '?'}|${typeof id === 'string' ? id.slice(0, 200) : ''}`;
  }

  private readJson(req: http.IncomingMessage): Promise<unknown> {
    const limit = this.opts.maxBodyBytes;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      const err = new HttpError(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`, { Connection: 'close' });
      return discardBody(req, Math.min(declared, DISCARD_LIMIT_BYTES)).then(() => Promise.reject(err));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > limit) {
          done = true;
          chunks.length = 0;
          const err = new HttpError(413, `request body is over the limit of ${limit} bytes`, { Connection: 'close' });
          void discardBody(req, DISCARD_LIMIT_BYTES - size).then(() => reject(err));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') { reject(new HttpError(400, 'the request body is empty; send a JSON object')); return; }
        try { resolve(JSON.parse(text)); } catch (e) { reject(new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`)); }
      });
      req.on('error', (e) => { if (!done) { done = true; reject(new HttpError(400, `reading the request failed: ${e.message}`)); } });
    });
  }

  private fail(res: http.ServerResponse, ctx: RequestContext | undefined, e: unknown, pathname: string): void {
    const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`);
    if (err.status >= 500 && err.status !== 503) this.log(`${pathname}: ${err.message}`);
    if (res.destroyed || res.writableEnded) return;  // the client is gone: nobody to tell
    if (ctx?.isStreaming || res.headersSent) {
      ctx?.event(errorBody(err.status, err.message));
      ctx?.endEvents();
      return;
    }
    const text = JSON.stringify(errorBody(err.status, err.message));
    res.writeHead(err.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...err.headers });
    res.end(text);
    // A body we refused to read: close the connection rather than read the rest of it.
    if (err.headers.Connection === 'close') res.once('finish', () => res.socket?.destroySoon?.());
  }
}
