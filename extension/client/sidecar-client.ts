// The editor's handle on the sidecar process: spawns it with the editor's own Node (process.execPath and
// ELECTRON_RUN_AS_NODE=1, so the native addon never loads into the editor), speaks the protocol, notices
// when the process dies, reports that once, and starts it again with backoff, replaying `initialize`, so
// the next request succeeds. Nothing waits forever: every request has a deadline (the wait for a restart
// included); a missed deadline checks that the sidecar still answers, and one that does not is killed and
// restarted like a crashed one. A model that fails to load again after a restart is reported once and
// leaves the client in an error state: requests fail at once with the reason until the next `initialize`
// (a settings change) or `restart` (Restart Engine). No `vscode` import: the tests drive this class directly.
import * as cp from 'node:child_process';
import { type CancellationToken, type MessageConnection, rpc } from '../../sidecar/jsonrpc';
import {
  type CompleteParams, type CompletePartial, type CompleteResult, type InitializeParams, type InitializeResult, Method, Notify,
  type StatsResult, type VocabBuildParams, type VocabBuildResult, type VocabProgress,
} from '../../sidecar/protocol';

export interface SidecarDeath {
  code: number | null;
  signal: string | null;
  restartInMs: number;
  stderrTail: string;
  /** Set when the client killed it because it stopped answering. */
  unresponsive?: boolean;
}

/** Deadlines in ms per method (the wait for a (re)starting sidecar counts against it). */
export const DEFAULT_DEADLINES_MS: Record<string, number> = {
  initialize: 300_000, complete: 30_000, stats: 10_000, cancel: 10_000, calibrate: 300_000,
  'vocab/build': 3_600_000, 'vocab/load': 60_000, shutdown: 5_000,
};
const DEFAULT_DEADLINE_MS = 60_000;

export interface SidecarClientOptions {
  /** The sidecar's entry script (dist/sidecar.js in the package). */
  entry: string;
  /** The Node to run it with (default process.execPath: in VS Code that is Electron, run as Node). */
  execPath?: string;
  /** Node flags before the entry (tests: ['--import', 'tsx'] to run the TypeScript sources). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Wait before restart number n (the last value repeats); reset after a run of `stableMs`. */
  backoffMs?: number[];
  stableMs?: number;
  onLog?: (line: string) => void;
  /** Called once per unexpected exit of the sidecar. */
  onDied?: (death: SidecarDeath) => void;
  /** Called when a (re)started sidecar has loaded the model again. */
  onReady?: (init: InitializeResult) => void;
  /** Called once when a restarted sidecar cannot load the model again (the client then stays in error). */
  onInitFailed?: (message: string) => void;
  /** Per-method deadlines (default DEFAULT_DEADLINES_MS). */
  deadlinesMs?: Partial<Record<string, number>>;
  /** How long a sidecar gets to answer `stats` after a missed deadline before it is killed (default 5000). */
  livenessMs?: number;
}

export class SidecarDiedError extends Error {
  readonly code = 'SIDECAR_DIED';
}

/** A request that missed its deadline. */
export class SidecarTimeoutError extends Error {
  readonly code = 'SIDECAR_TIMEOUT';
}

/** The model could not be loaded (again): requests fail with this until `initialize` or `restart`. */
export class SidecarInitError extends Error {
  readonly code = 'SIDECAR_INIT_FAILED';
}

/** A promise with its settle functions; a replaced gate follows its successor, so no waiter is stranded. */
interface Gate { promise: Promise<void>; resolve: (v?: void | Promise<void>) => void; reject: (e: Error) => void }
function newGate(): Gate {
  let resolve!: Gate['resolve'], reject!: Gate['reject'];
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined);  // a failed gate is read by the next request, never left unhandled
  return { promise, resolve, reject };
}

export class SidecarClient {
  private proc?: cp.ChildProcess;
  private conn?: MessageConnection;
  private gate = newGate();
  private initParams?: InitializeParams;
  private initResult?: InitializeResult;
  /** Why the model failed to load (the error state), until the next initialize or restart. */
  private initError?: Error;
  private checkingAlive = false;
  private consecutiveDeaths = 0;
  private startedAt = 0;
  private restartTimer?: NodeJS.Timeout;
  private disposed = false;
  private stderrTail = '';
  private readonly partials = new Map<string, (text: string) => void>();
  private readonly progress = new Map<string, (p: VocabProgress) => void>();
  /** Restarts so far (for the tests and the status bar's tooltip). */
  restarts = 0;

  constructor(private readonly opts: SidecarClientOptions) {}

  /** Spawns the sidecar (once); requests wait for it. */
  start(): void {
    if (!this.proc && !this.restartTimer && !this.disposed) this.spawn();
  }

  get pid(): number | undefined { return this.proc?.pid; }
  get model(): InitializeResult | undefined { return this.initResult; }
  /** The reason of the error state (a model that failed to load), if the client is in it. */
  get error(): string | undefined { return this.initError?.message; }

  /** Loads a model; remembered, so a restarted sidecar loads it again before serving requests. Leaves the error state. */
  async initialize(params: InitializeParams): Promise<InitializeResult> {
    const deadline = Date.now() + this.deadline(Method.initialize);
    this.initParams = params;
    this.initResult = undefined;
    this.initError = undefined;
    this.replaceGate();  // requests from now on wait for this model
    const gate = this.gate;
    if (!this.proc && !this.disposed) {
      // Start (or restart now, rather than after the backoff) without replaying the old initialize: this one is sent below.
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.spawn(false);
    }
    try {
      const conn = await this.connection(deadline);
      const r = await this.send<InitializeResult>(conn, Method.initialize, params, undefined, deadline);
      if (this.initParams === params) { this.initResult = r; gate.resolve(); }
      this.opts.onReady?.(r);
      return r;
    } catch (e) {
      // A death during the load is handled by the restart (which replays this initialize); anything else
      // is the error state.
      if (this.initParams === params && this.gate === gate && !(e instanceof SidecarDiedError)) {
        this.initError = e as Error;
        gate.reject(new SidecarInitError(`the model could not be loaded: ${(e as Error).message}`));
      }
      throw e;
    }
  }

  /** One completion; `onPartial` sees the text so far while it streams. Rejects with code -32800 when superseded. */
  async complete(params: CompleteParams, token?: CancellationToken, onPartial?: (text: string) => void): Promise<CompleteResult> {
    const streamId = onPartial ? params.streamId ?? `s${++streamCounter}` : params.streamId;
    if (onPartial && streamId) this.partials.set(streamId, onPartial);
    try {
      return await this.request<CompleteResult>(Method.complete, streamId ? { ...params, streamId } : params, token);
    } finally {
      if (streamId) this.partials.delete(streamId);
    }
  }

  stats(): Promise<StatsResult> {
    return this.request<StatsResult>(Method.stats, {});
  }

  async buildVocab(params: VocabBuildParams, token?: CancellationToken, onProgress?: (p: VocabProgress) => void): Promise<VocabBuildResult> {
    const progressToken = onProgress ? `v${++streamCounter}` : undefined;
    if (progressToken) this.progress.set(progressToken, onProgress!);
    try {
      return await this.request<VocabBuildResult>(Method.vocabBuild, { ...params, ...(progressToken ? { progressToken } : {}) }, token);
    } finally {
      if (progressToken) this.progress.delete(progressToken);
    }
  }

  /** Any protocol request, sent once the sidecar is up (and has its model back after a restart); settles by its deadline. */
  async request<R>(method: string, params: object, token?: CancellationToken): Promise<R> {
    const deadline = Date.now() + this.deadline(method);
    if (this.disposed) throw new SidecarDiedError('the FR-Spec engine was stopped');
    this.start();
    await withDeadline(this.gate.promise, deadline, () => new SidecarTimeoutError(`the FR-Spec engine did not become ready within ${this.deadline(method)} ms for '${method}'`));
    const conn = this.conn;
    if (!conn) throw new SidecarDiedError(`the FR-Spec engine stopped before '${method}' (it is restarting)`);
    return this.send<R>(conn, method, params, token, deadline);
  }

  /** Stops and starts the sidecar now (Restart Engine); leaves the error state. Rejects if the model fails to load. */
  async restart(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.stopProcess();
    this.consecutiveDeaths = 0;
    this.initError = undefined;
    this.spawn();
    await withDeadline(this.gate.promise, Date.now() + this.deadline(Method.initialize), () => new SidecarTimeoutError('the FR-Spec engine did not restart in time'));
  }

  /** Asks the sidecar to shut down, then kills it if it has not exited within `graceMs`. */
  async dispose(graceMs = 2000): Promise<void> {
    this.disposed = true;
    this.gate.reject(new SidecarDiedError('the FR-Spec engine was stopped'));
    clearTimeout(this.restartTimer);
    await this.stopProcess(graceMs);
  }

  private async stopProcess(graceMs = 2000): Promise<void> {
    const proc = this.proc, conn = this.conn;
    if (!proc) return;
    this.proc = undefined;  // its exit is expected now: not a death
    this.conn = undefined;
    this.replaceGate();
    const exited = new Promise<void>((r) => { if (proc.exitCode !== null || proc.signalCode !== null) r(); else proc.once('exit', () => r()); });
    try {
      await Promise.race([conn?.sendRequest(Method.shutdown, {}), delay(graceMs)]);
      void conn?.sendNotification(Notify.exit);
    } catch { /* already gone */ }
    await Promise.race([exited, delay(graceMs)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    conn?.dispose();
  }

  private async connection(deadline: number): Promise<MessageConnection> {
    // initialize itself must not wait for the gate (it opens when initialized), only for the process.
    while (!this.conn) {
      if (this.disposed) throw new SidecarDiedError('the FR-Spec engine was stopped');
      if (Date.now() > deadline) throw new SidecarTimeoutError('the FR-Spec engine process did not start in time');
      await delay(10);
    }
    return this.conn;
  }

  private deadline(method: string): number {
    return this.opts.deadlinesMs?.[method] ?? DEFAULT_DEADLINES_MS[method] ?? DEFAULT_DEADLINE_MS;
  }

  /**
   * Sends one request; it settles by `deadline` whatever the sidecar does. A missed deadline cancels the
   * request on the wire and checks that the sidecar still answers (see checkAlive).
   */
  private async send<R>(conn: MessageConnection, method: string, params: object, token?: CancellationToken, deadline = Date.now() + this.deadline(method)): Promise<R> {
    const proc = this.proc;
    const cancel = new rpc.CancellationTokenSource();
    const sub = token?.onCancellationRequested(() => cancel.cancel());
    try {
      const sent = conn.sendRequest<R>(method, params, cancel.token);
      return await withDeadline(sent, deadline, () => {
        cancel.cancel();
        if (proc) void this.checkAlive(proc, conn);
        return new SidecarTimeoutError(`the FR-Spec engine did not answer '${method}' within ${this.deadline(method)} ms`);
      });
    } catch (e) {
      if (e instanceof SidecarTimeoutError) throw e;
      // vscode-jsonrpc reports transport failures (pipe closed, write failed) with codes -32099..-32090.
      if (e instanceof rpc.ResponseError && !(e.code >= -32099 && e.code <= -32090)) throw e;
      // The closed pipe can reject the request before the process's exit is reported: wait for it briefly.
      if (proc && proc.exitCode === null && proc.signalCode === null) await Promise.race([new Promise((r) => proc.once('exit', r)), delay(1000)]);
      if (this.proc !== proc || !proc || proc.exitCode !== null || proc.signalCode !== null) {
        throw new SidecarDiedError(`the FR-Spec engine stopped during '${method}' (it is restarting)`);
      }
      throw e;
    } finally {
      sub?.dispose();
      cancel.dispose();
    }
  }

  /** After a missed deadline: a sidecar that does not answer `stats` in time is killed (then restarted as after a crash). */
  private async checkAlive(proc: cp.ChildProcess, conn: MessageConnection): Promise<void> {
    if (this.checkingAlive || this.proc !== proc) return;
    this.checkingAlive = true;
    try {
      const ms = this.opts.livenessMs ?? 5000;
      const answered = await withDeadline(conn.sendRequest(Method.stats, {}).then(() => true, () => true), Date.now() + ms, () => new Error('no answer')).catch(() => false);
      if (!answered && this.proc === proc && proc.exitCode === null && proc.signalCode === null) {
        this.opts.onLog?.(`the FR-Spec engine (pid ${proc.pid}) stopped answering (no answer to 'stats' within ${ms} ms): killing it to restart it`);
        this.unresponsive = proc;
        proc.kill('SIGKILL');
      }
    } finally {
      this.checkingAlive = false;
    }
  }

  private unresponsive?: cp.ChildProcess;

  /** A new gate for requests to wait on; waiters of the old one follow the new one if it was still open. */
  private replaceGate(): void {
    const old = this.gate;
    this.gate = newGate();
    old.resolve(this.gate.promise);
  }

  /** Starts the process; `replay`: send the remembered initialize (a restart) or open the gate (no model yet). */
  private spawn(replay = true): void {
    const o = this.opts;
    const proc = cp.spawn(o.execPath ?? process.execPath, [...(o.execArgv ?? []), o.entry], {
      env: { ...(o.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.startedAt = Date.now();
    this.stderrTail = '';
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
      for (const line of chunk.split('\n')) if (line.trim()) o.onLog?.(line);
    });
    const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout!), new rpc.StreamMessageWriter(proc.stdin!));
    conn.onNotification(Notify.partial, (p: CompletePartial) => this.partials.get(p.streamId)?.(p.text));
    conn.onNotification(Notify.vocabProgress, (p: VocabProgress) => this.progress.get(p.token)?.(p));
    conn.onError(() => undefined);  // a broken pipe shows up as the exit below
    conn.listen();
    this.conn = conn;
    proc.on('error', (e) => o.onLog?.(`cannot start the sidecar: ${e.message}`));
    proc.on('exit', (code, signal) => this.onExit(proc, code, signal));
    const gate = this.gate;
    const params = this.initParams;
    if (!replay) return;  // initialize() sends its own request and opens the gate
    if (params) {
      // A restart: load the model again before requests go through. A failure is the error state,
      // reported once; the next initialize (settings change) or restart (Restart Engine) leaves it.
      this.send<InitializeResult>(conn, Method.initialize, params).then(
        (r) => { if (this.gate === gate) { this.initResult = r; gate.resolve(); o.onReady?.(r); } },
        (e) => {
          if (this.gate !== gate || this.initParams !== params || e instanceof SidecarDiedError) return;  // superseded, or died again: the restart handles it
          const message = `reloading the model after a restart failed: ${(e as Error).message}`;
          this.initError = e as Error;
          gate.reject(new SidecarInitError(message));
          o.onLog?.(message);
          o.onInitFailed?.(message);
        },
      );
    } else gate.resolve();
  }

  private onExit(proc: cp.ChildProcess, code: number | null, signal: string | null): void {
    if (proc !== this.proc) return;  // stopped on purpose
    this.conn?.dispose();
    this.proc = undefined;
    this.conn = undefined;
    this.replaceGate();
    if (this.disposed) return;
    if (Date.now() - this.startedAt > (this.opts.stableMs ?? 30_000)) this.consecutiveDeaths = 0;
    const backoff = this.opts.backoffMs ?? [250, 1000, 4000, 15000, 30000];
    const restartInMs = backoff[Math.min(this.consecutiveDeaths, backoff.length - 1)];
    this.consecutiveDeaths++;
    this.opts.onDied?.({ code, signal, restartInMs, stderrTail: this.stderrTail, ...(this.unresponsive === proc ? { unresponsive: true } : {}) });
    this.restartTimer = setTimeout(() => { this.restartTimer = undefined; this.restarts++; this.spawn(); }, restartInMs);
  }
}

let streamCounter = 0;
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or the error `late()` makes when `deadline` (ms since the epoch) passes first. */
function withDeadline<T>(p: Promise<T>, deadline: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), Math.max(0, Math.min(deadline - Date.now(), 2 ** 31 - 1)));
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
