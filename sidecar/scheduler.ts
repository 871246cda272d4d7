// Scheduling for an editor: one engine, one job at a time, and the newest completion wins. A new request
// supersedes the one waiting (rejected at once) and cancels the one running (the engine stops within one
// decoding step). Background jobs (calibration) run only when nothing else waits, and a foreground request
// cancels a running background job, which then starts again when the engine is idle.
import { ErrorCode } from './protocol';
import { SidecarError } from './errors';

interface Job {
  run: (signal: AbortSignal) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  ctrl: AbortController;
  background: boolean;
}

export class LatestWins {
  private running?: Job;
  private waiting?: Job;
  private readonly background: Job[] = [];
  /** Requests rejected because a newer one arrived before or while they ran. */
  superseded = 0;

  /** Runs `run` after the current job; cancels the current job and drops any waiting one. */
  submit<T>(run: (signal: AbortSignal) => Promise<T>): { promise: Promise<T>; cancel: (why: string) => void } {
    const job = this.makeJob(run, false);
    if (this.waiting) this.drop(this.waiting, 'superseded by a newer request');
    this.waiting = job;
    if (this.running) {
      const why = this.running.background ? 'background' : 'superseded by a newer request';
      // Counted once: a running job already aborted by an earlier request is not superseded again.
      if (!this.running.background && !this.running.ctrl.signal.aborted) this.superseded++;
      this.running.ctrl.abort(new SidecarError(ErrorCode.RequestCancelled, why));
    }
    this.pump();
    return { promise: job.promise as Promise<T>, cancel: (why) => this.cancel(job, why) };
  }

  /** Runs `run` when the engine is idle; retried from scratch whenever a foreground job interrupts it. */
  submitBackground<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const job = this.makeJob(run, true);
    this.background.push(job);
    this.pump();
    return job.promise as Promise<T>;
  }

  /** Cancels everything queued and running (shutdown, model change); returns how many jobs it reached. */
  cancelAll(why: string): number {
    let n = 0;
    if (this.waiting) { this.drop(this.waiting, why); this.waiting = undefined; n++; }
    for (const b of this.background.splice(0)) { this.drop(b, why); n++; }
    if (this.running) { this.running.ctrl.abort(new SidecarError(ErrorCode.RequestCancelled, why)); n++; }
    return n;
  }

  /** Resolves when nothing runs or waits. */
  async idle(): Promise<void> {
    while (this.running || this.waiting || this.background.length) {
      await (this.running as (Job & { promise: Promise<unknown> }) | undefined)?.promise.catch(() => undefined);
      await new Promise((r) => setImmediate(r));
    }
  }

  private makeJob(run: (signal: AbortSignal) => Promise<unknown>, background: boolean): Job & { promise: Promise<unknown> } {
    let resolve!: (v: unknown) => void, reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => { resolve = res; reject = rej; });
    return { run, resolve, reject, ctrl: new AbortController(), background, promise };
  }

  private cancel(job: Job, why: string): void {
    if (this.waiting === job) { this.waiting = undefined; this.drop(job, why); }
    else if (this.running === job) job.ctrl.abort(new SidecarError(ErrorCode.RequestCancelled, why));
  }

  private drop(job: Job, why: string): void {
    if (why.startsWith('superseded')) this.superseded++;
    job.reject(new SidecarError(ErrorCode.RequestCancelled, why));
  }

  private pump(): void {
    if (this.running) return;
    const job = this.waiting ?? this.background.shift();
    if (!job) return;
    if (job === this.waiting) this.waiting = undefined;
    this.running = job;
    const { signal } = job.ctrl;
    const fail = (e: unknown) => {
      if (job.background && (signal.reason as SidecarError | undefined)?.message === 'background') {
        // Interrupted by a foreground request: start over when idle, with a fresh signal.
        this.background.unshift({ ...job, ctrl: new AbortController() });
      } else job.reject(e);
    };
    // A cancelled engine call resolves early (stop: cancelled) rather than throwing: the signal decides.
    job.run(signal).then(
      (v) => (signal.aborted ? fail(signal.reason) : job.resolve(v)),
      (e) => fail(signal.aborted ? signal.reason : e),
    ).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }
}
