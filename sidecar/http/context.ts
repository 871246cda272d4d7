// What a route handler gets: the engine host, who the client is (for latest-wins), a signal that fires when
// the HTTP client goes away, the parsed JSON body, and the two ways to answer (one JSON response, or
// server-sent events: `data: {...}\n\n` per chunk, as llama.cpp and OpenAI stream).
import type * as http from 'node:http';
import type { CompletionHost } from './host';
import { HttpError } from './errors';
import type { Body } from './params';

export class RequestContext {
  private streaming = false;

  constructor(
    readonly host: CompletionHost,
    readonly client: string,
    readonly aborted: AbortSignal,
    private readonly res: http.ServerResponse,
    private readonly parsed: unknown,
  ) {}

  /** The request body: a JSON object (anything else is a 400). */
  body(): Body {
    const b = this.parsed;
    if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new HttpError(400, 'the request body must be a JSON object');
    return b as Body;
  }

  get isStreaming(): boolean {
    return this.streaming;
  }

  json(status: number, obj: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(obj);
    this.res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    this.res.end(text);
  }

  text(status: number, body: string, contentType: string): void {
    this.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
  }

  startEvents(): void {
    this.streaming = true;
    this.res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  }

  event(obj: unknown): void {
    this.eventRaw(JSON.stringify(obj));
  }

  eventRaw(data: string): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(`data: ${data}\n\n`);
  }

  endEvents(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
