// Latest-wins per client, in front of the sidecar's one-engine scheduler (../scheduler.ts). The editor's
// sidecar has one client, so there any new request cancels the old one; an HTTP server has many, so only a
// newer request of the SAME client supersedes (a waiting one is rejected at once, a running one is stopped
// within one decoding step). Different clients take turns in arrival order, one job on the engine at a time;
// the engine scheduler still runs calibration when no client waits. The number of waiting clients is bounded:
// past `maxWaiting` a request is refused at once (the HTTP layer answers 503) instead of queueing forever.
import { LatestWins } from '../scheduler';
import { SidecarError } from '../errors';
import { ErrorCode } from '../protocol';

export class QueueFullError extends Error {}

interface Waiting {
  client: string;
  run: (signal: AbortSignal) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Running { job: Waiting; cancel: (why: string) => void }

export class ClientQueue {
  /** Waiting jobs in arrival order, at most one per client (Map keeps insertion order). */
  private readonly waiting = new Map<string, Waiting>();
  private running?: Running;
  superseded = 0;

  constructor(readonly engine: LatestWins, private readonly maxWaiting = 256) {}

  get depth(): number {
    return this.waiting.size;
  }

  /**
   * Runs `run` for `client` when its turn comes. Rejects with a RequestCancelled SidecarError when a newer
   * request of the same client supersedes it or `cancel` is called, and with QueueFullError when too many
   * clients wait.
   */
  submit<T>(client: string, run: (signal: AbortSignal) => Promise<T>): { promise: Promise<T>; cancel: (why: string) => void } {
    const older = this.waiting.get(client);
    if (older) {
      this.waiting.delete(client);
      this.superseded++;
      older.reject(new SidecarError(ErrorCode.RequestCancelled, 'superseded by a newer request from the same client'));
    } else if (this.waiting.size >= this.maxWaiting) {
      return { promise: Promise.reject(new QueueFullError(`${this.waiting.size} clients are waiting for the engine; try again shortly`)), cancel: () => undefined };
    }
    if (this.running?.job.client === client) {
      this.superseded++;
      this.running.cancel('superseded by a newer request from the same client');
    }
    let job!: Waiting;
    const promise = new Promise<T>((resolve, reject) => {
      job = { client, run, resolve: resolve as (v: unknown) => void, reject };
    });
    this.waiting.set(client, job);
    this.pump();
    const cancel = (why: string) => {
      if (this.waiting.get(client) === job) {
        this.waiting.delete(client);
        job.reject(new SidecarError(ErrorCode.RequestCancelled, why));
      } else if (this.running?.job === job) this.running.cancel(why);
    };
    return { promise, cancel };
  }

  /** Cancels every waiting and running job (shutdown). */
  cancelAll(why: string): void {
    for (const w of this.waiting.values()) w.reject(new SidecarError(ErrorCode.RequestCancelled, why));
    this.waiting.clear();
    this.running?.cancel(why);
  }

  private pump(): void {
    if (this.running) return;
    const next = this.waiting.values().next();
    if (next.done) return;
    const job = next.value;
    this.waiting.delete(job.client);
    // Only one of our jobs is ever on the engine scheduler, so its `submit` cancels nothing but calibration.
    const handle = this.engine.submit(job.run);
    this.running = { job, cancel: handle.cancel };
    handle.promise.then(job.resolve, job.reject).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }
}
