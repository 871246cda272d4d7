// The engine behind the HTTP server: one loaded Session (the sidecar's: model, tokenizer, plain or FR-Spec
// speculative decoder, draft vocabulary), the sidecar's statistics and background calibration (so
// speculative decoding is used only where it is measured faster here), and latest-wins per client.
import { calibrate, newCalibrationProgress } from '../calibrate';
import { SidecarError } from '../errors';
import { type Calibration, ErrorCode, type InitializeParams } from '../protocol';
import { LatestWins } from '../scheduler';
import { Session } from '../session';
import { Stats } from '../stats';
import { ClientQueue, QueueFullError } from './client-queue';
import { type CompletionOutput, type CompletionRequest, runCompletion } from './completion';
import { HttpError } from './errors';
import { Metrics } from './metrics';

export interface HostOptions {
  /** Clients that may wait for the engine at once; more get 503 at once. */
  maxWaiting?: number;
  log?: (line: string) => void;
}

export class CompletionHost {
  readonly stats = new Stats();
  readonly metrics = new Metrics();
  private readonly engine = new LatestWins();
  readonly queue: ClientQueue;
  private closed = false;

  private constructor(readonly session: Session, readonly params: InitializeParams, private readonly log: (line: string) => void, opts: HostOptions) {
    this.queue = new ClientQueue(this.engine, opts.maxWaiting ?? 256);
  }

  static async load(params: InitializeParams, opts: HostOptions = {}): Promise<CompletionHost> {
    const log = opts.log ?? (() => undefined);
    const t0 = performance.now();
    const session = await Session.load(params);
    log(`loaded ${params.model} in ${(performance.now() - t0).toFixed(0)} ms (${session.decoder.summary.mode} decoding)`);
    const host = new CompletionHost(session, params, log, opts);
    // Calibration decides between plain and speculative decoding; with no drafter there is nothing to decide
    // (and its prompt would only displace the first clients' cached prefixes).
    if (params.calibrate !== false && session.decoder.summary.mode === 'speculative') void host.calibrate().catch(() => undefined);
    return host;
  }

  /** Plain vs configured decoder on this machine, in the engine's idle time (restarts when a request interrupts it). */
  async calibrate(): Promise<Calibration> {
    const s = this.session;
    const progress = newCalibrationProgress();
    const c = await this.engine.submitBackground((signal) => calibrate(s.decoder, s.tok, signal, {}, progress));
    this.stats.calibration = c;
    s.decoder.choose(c.plainTokensPerSecond, c.decoderTokensPerSecond);
    this.log(`calibrated: plain ${c.plainTokensPerSecond.toFixed(1)} tokens/s, decoder ${c.decoderTokensPerSecond.toFixed(1)} tokens/s, τ ${c.tau.toFixed(2)}`);
    return c;
  }

  /**
   * Runs one completion for `client` (a newer request of the same client cancels this one). `abort` fires
   * when the HTTP client goes away. Errors are HttpErrors: 409 superseded/cancelled, 503 queue full or closing.
   */
  async complete(client: string, req: CompletionRequest, abort: AbortSignal): Promise<CompletionOutput> {
    const received = performance.now();
    if (this.closed) throw new HttpError(503, 'the server is shutting down');
    const warmup = req.maxTokens === 0;
    if (!warmup) this.stats.requests.received++;
    const job = this.queue.submit(client, (signal) => runCompletion(this.session, req, signal, received));
    const onAbort = () => job.cancel('the client closed the connection');
    if (abort.aborted) onAbort();
    else abort.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await job.promise;
      if (!warmup) this.stats.completed(r.stats);
      this.metrics.completion(r.stats);
      this.metrics.outcome('completed');
      return r;
    } catch (e) {
      if (e instanceof QueueFullError) {
        this.metrics.outcome('rejected');
        throw new HttpError(503, e.message, { 'Retry-After': '1' });
      }
      if (e instanceof SidecarError && e.code === ErrorCode.RequestCancelled) {
        const superseded = e.message.startsWith('superseded');
        this.metrics.outcome(superseded ? 'superseded' : 'cancelled');
        if (!warmup) { if (superseded) this.stats.requests.superseded++; else this.stats.requests.cancelled++; }
        throw new HttpError(409, e.message);
      }
      this.metrics.outcome('failed');
      if (!warmup) this.stats.requests.failed++;
      throw e instanceof HttpError ? e : new HttpError(500, `engine error: ${(e as Error).message}`);
    } finally {
      abort.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.cancelAll('the server is shutting down');
    this.engine.cancelAll('the server is shutting down');
    await this.engine.idle();
    await this.session.close();
  }
}
