// The sidecar's reader of `Content-Length` frames (the LSP base protocol), stricter than vscode-jsonrpc's
// own: a frame it cannot trust ends the connection instead of leaving a live, mute server.
//  - headers over 8 KiB, a header line without ':', a missing or non-numeric Content-Length, a body over
//    the size limit, or a frame left incomplete for `stallMs`: a framing error; the server answers what it
//    can and closes, so the client notices the exit and restarts it (nothing later could be parsed right).
//  - a body that is not JSON: -32700 (id null), then the same close (a wrong Content-Length looks like this).
//  - JSON that is not a JSON-RPC message (null, 42, [], a batch, a bad id or method): -32600 answers, and
//    the connection goes on (the framing was right).
// Only well-formed requests, notifications and responses reach vscode-jsonrpc's connection.
import { rpc } from './jsonrpc';
import { ErrorCode } from './protocol';

export interface FramingLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  /** A frame begun but not finished within this long is a framing error. */
  stallMs: number;
}

export const DEFAULT_FRAMING_LIMITS: FramingLimits = { maxHeaderBytes: 8192, maxBodyBytes: 32 << 20, stallMs: 10_000 };

type Answer = (message: object) => void;
const HEADER_END = Buffer.from('\r\n\r\n');

export class FramedReader extends rpc.AbstractMessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private bodyLength = -1;
  private stallTimer?: NodeJS.Timeout;
  private closed = false;
  private callback?: (m: any) => void;

  constructor(
    private readonly input: NodeJS.ReadableStream,
    /** Writes a JSON-RPC error answer (or an array of them) straight to the client. */
    private readonly answer: Answer,
    private readonly limits: FramingLimits = DEFAULT_FRAMING_LIMITS,
  ) {
    super();
  }

  listen(callback: (m: any) => void): { dispose(): void } {
    this.callback = callback;
    const onData = (d: Buffer | string) => this.onData(typeof d === 'string' ? Buffer.from(d) : d);
    const onEnd = () => this.close();
    const onError = (e: Error) => this.fireError(e);
    this.input.on('data', onData);
    this.input.on('end', onEnd);
    this.input.on('close', onEnd);
    this.input.on('error', onError);
    return {
      dispose: () => {
        this.input.off('data', onData);
        this.input.off('end', onEnd);
        this.input.off('close', onEnd);
        this.input.off('error', onError);
        clearTimeout(this.stallTimer);
      },
    };
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.chunks.push(d);
    this.buffered += d.length;
    try {
      for (;;) {
        const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
        this.chunks = buf.length ? [buf] : [];
        if (this.bodyLength < 0) {
          const end = buf.indexOf(HEADER_END);
          if (end < 0) {
            if (buf.length > this.limits.maxHeaderBytes) throw new FramingError(`no end of headers within ${this.limits.maxHeaderBytes} bytes`);
            break;
          }
          if (end > this.limits.maxHeaderBytes) throw new FramingError(`headers of ${end} bytes (limit ${this.limits.maxHeaderBytes})`);
          this.bodyLength = parseHeaders(buf.toString('latin1', 0, end), this.limits.maxBodyBytes);
          this.take(end + HEADER_END.length);
          continue;
        }
        if (this.buffered < this.bodyLength) break;
        const body = this.take(this.bodyLength);
        this.bodyLength = -1;
        this.deliver(body);
        if (this.closed) return;
      }
      // Something is buffered but no whole frame: it must complete soon, or the framing is wrong.
      clearTimeout(this.stallTimer);
      if (this.buffered > 0 || this.bodyLength >= 0) {
        this.stallTimer = setTimeout(() => this.framingError(new FramingError(
          `an incomplete frame (${this.bodyLength >= 0 ? `${this.buffered} of ${this.bodyLength} body bytes` : `${this.buffered} header bytes`}) waited over ${this.limits.stallMs} ms`,
        )), this.limits.stallMs);
        this.stallTimer.unref?.();
      }
    } catch (e) {
      this.framingError(e as Error);
    }
  }

  private take(n: number): Buffer {
    const buf = this.chunks[0] ?? Buffer.alloc(0);
    const head = buf.subarray(0, n);
    const rest = buf.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return head;
  }

  private deliver(body: Buffer): void {
    let msg: unknown;
    try {
      msg = JSON.parse(body.toString('utf8'));
    } catch (e) {
      this.answer(errorAnswer(null, ErrorCode.ParseError, `parse error: the body is not JSON (${(e as Error).message.split('\n')[0].slice(0, 120)}); closing the connection`));
      this.framingError(new FramingError('a body that is not JSON (a wrong Content-Length?)'), false);
      return;
    }
    if (Array.isArray(msg)) {
      // Batches are not supported: each request in it gets an error, nothing in it runs.
      const answers = msg.length === 0
        ? [errorAnswer(null, ErrorCode.InvalidRequest, 'invalid request: an empty batch')]
        : msg.filter((m) => !isObject(m) || m.id !== undefined).map((m) => errorAnswer(validId(isObject(m) ? m.id : null), ErrorCode.InvalidRequest, 'invalid request: batches are not supported; send each request as its own message'));
      if (answers.length === 1 && msg.length === 0) this.answer(answers[0]);
      else if (answers.length) this.answer(answers);
      return;
    }
    const problem = messageProblem(msg);
    if (problem) {
      const id = isObject(msg) ? validId(msg.id) : null;
      // A malformed response needs no answer (answering it could start a loop); anything else gets one.
      if (!(isObject(msg) && msg.method === undefined && msg.id !== undefined && ('result' in msg || 'error' in msg))) {
        this.answer(errorAnswer(id, ErrorCode.InvalidRequest, `invalid request: ${problem}`));
      }
      return;
    }
    this.callback?.(msg);
  }

  private framingError(e: Error, answer = true): void {
    if (this.closed) return;
    if (answer) this.answer(errorAnswer(null, ErrorCode.ParseError, `framing error: ${e.message}; closing the connection`));
    this.fireError(e);
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stallTimer);
    this.chunks = [];
    this.buffered = 0;
    this.fireClose();
  }
}

export class FramingError extends Error {}

function parseHeaders(text: string, maxBody: number): number {
  let length: number | undefined;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new FramingError(`a header line without 'Name: value' (${JSON.stringify(line.slice(0, 60))})`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,12}$/.test(value)) throw new FramingError(`Content-Length ${JSON.stringify(value.slice(0, 30))} is not a number`);
      length = Number(value);
    }
  }
  if (length === undefined) throw new FramingError('a frame without a Content-Length header');
  if (length > maxBody) throw new FramingError(`a body of ${length} bytes is over the limit of ${maxBody}`);
  return length;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const validId = (id: unknown): string | number | null => (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null);

function errorAnswer(id: string | number | null, code: number, message: string): object {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/** Why `m` is not a JSON-RPC 2.0 request, notification or response (undefined when it is one). */
function messageProblem(m: unknown): string | undefined {
  if (!isObject(m)) return `expected a JSON object, got ${m === null ? 'null' : typeof m}`;
  if (m.jsonrpc !== '2.0') return '"jsonrpc" must be "2.0"';
  if (m.id !== undefined && validId(m.id) === null) return '"id" must be a string or a finite number';
  if (m.method !== undefined) {
    if (typeof m.method !== 'string' || !m.method) return '"method" must be a non-empty string';
    if (m.params !== undefined && (typeof m.params !== 'object' || m.params === null)) return '"params" must be an object or an array';
    return undefined;
  }
  if (m.id === undefined) return 'a message needs a "method" (request or notification) or an "id" with "result" or "error" (response)';
  if (('result' in m) === ('error' in m)) return 'a response has exactly one of "result" and "error"';
  return undefined;
}
