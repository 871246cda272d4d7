// The editor's handle on the sidecar process: spawns it with the editor's own Node (process.execPath and
// ELECTRON_RUN_AS_NODE=1, so the native addon never loads into the editor), speaks the protocol, notices
// when the process dies, reports that once, and starts it again with backoff, replaying `initialize`, so
// the next request succeeds. No `vscode` import: the tests drive this class directly.
import * as cp from 'node:child_process';
import { type CancellationToken, type MessageConnection, rpc } from '../../native/sidecar/jsonrpc';
import {
  type CompleteParams, type CompletePartial, type CompleteResult, type InitializeParams, type InitializeResult, Method, Notify,
  type StatsResult, type VocabBuildParams, type VocabBuildResult, type VocabProgress,
} from '../../native/sidecar/protocol';

export interface SidecarDeath { code: number | null; signal: string | null; restartInMs: number; stderrTail: string }

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
}

export class SidecarDiedError extends Error {
  readonly code = 'SIDECAR_DIED';
}

export class SidecarClient {
  private proc?: cp.ChildProcess;
  private conn?: MessageConnection;
  private ready: Promise<void>;
  private markReady!: () => void;
  private initParams?: InitializeParams;
  private initResult?: InitializeResult;
  private consecutiveDeaths = 0;
  private startedAt = 0;
  private restartTimer?: NodeJS.Timeout;
  private disposed = false;
  private stderrTail = '';
  private readonly partials = new Map<string, (text: string) => void>();
  private readonly progress = new Map<string, (p: VocabProgress) => void>();
  /** Restarts so far (for the tests and the status bar's tooltip). */
  restarts = 0;

  constructor(private readonly opts: SidecarClientOptions) {
    this.ready = this.newReady();
  }

  /** Spawns the sidecar (once); requests wait for it. */
  start(): void {
    if (!this.proc && !this.restartTimer && !this.disposed) this.spawn();
  }

  get pid(): number | undefined { return this.proc?.pid; }
  get model(): InitializeResult | undefined { return this.initResult; }

  /** Loads a model; remembered, so a restarted sidecar loads it again before serving requests. */
  async initialize(params: InitializeParams): Promise<InitializeResult> {
    this.start();
    this.initParams = params;
    this.initResult = undefined;
    const conn = await this.connection();
    const r = await this.send<InitializeResult>(conn, Method.initialize, params);
    this.initResult = r;
    this.opts.onReady?.(r);
    return r;
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

  /** Any protocol request, sent once the sidecar is up (and has its model back after a restart). */
  async request<R>(method: string, params: object, token?: CancellationToken): Promise<R> {
    this.start();
    await this.ready;
    return this.send<R>(this.conn!, method, params, token);
  }

  /** Stops and starts the sidecar now (Restart Engine). */
  async restart(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.stopProcess();
    this.consecutiveDeaths = 0;
    this.spawn();
    await this.ready;
  }

  /** Asks the sidecar to shut down, then kills it if it has not exited within `graceMs`. */
  async dispose(graceMs = 2000): Promise<void> {
    this.disposed = true;
    clearTimeout(this.restartTimer);
    await this.stopProcess(graceMs);
  }

  private async stopProcess(graceMs = 2000): Promise<void> {
    const proc = this.proc, conn = this.conn;
    if (!proc) return;
    this.proc = undefined;  // its exit is expected now: not a death
    this.conn = undefined;
    this.ready = this.newReady();
    const exited = new Promise<void>((r) => { if (proc.exitCode !== null || proc.signalCode !== null) r(); else proc.once('exit', () => r()); });
    try {
      await Promise.race([conn?.sendRequest(Method.shutdown, {}), delay(graceMs)]);
      void conn?.sendNotification(Notify.exit);
    } catch { /* already gone */ }
    await Promise.race([exited, delay(graceMs)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    conn?.dispose();
  }

  private async connection(): Promise<MessageConnection> {
    // initialize itself must not wait for `ready` (ready means "initialized"), only for the process.
    while (!this.conn) await delay(10);
    return this.conn;
  }

  private async send<R>(conn: MessageConnection, method: string, params: object, token?: CancellationToken): Promise<R> {
    const proc = this.proc;
    try {
      return token ? await conn.sendRequest<R>(method, params, token) : await conn.sendRequest<R>(method, params);
    } catch (e) {
      // vscode-jsonrpc reports transport failures (pipe closed, write failed) with codes -32099..-32090.
      if (e instanceof rpc.ResponseError && !(e.code >= -32099 && e.code <= -32090)) throw e;
      // The closed pipe can reject the request before the process's exit is reported: wait for it briefly.
      if (proc && proc.exitCode === null && proc.signalCode === null) await Promise.race([new Promise((r) => proc.once('exit', r)), delay(1000)]);
      if (this.proc !== proc || !proc || proc.exitCode !== null || proc.signalCode !== null) {
        throw new SidecarDiedError(`the FR-Spec engine stopped during '${method}' (it is restarting)`);
      }
      throw e;
    }
  }

  private newReady(): Promise<void> {
    return new Promise<void>((resolve) => { this.markReady = resolve; });
  }

  private spawn(): void {
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
    if (this.initParams) {
      // A restart: load the model again before requests go through.
      this.send<InitializeResult>(conn, Method.initialize, this.initParams).then(
        (r) => { this.initResult = r; o.onReady?.(r); this.markReady(); },
        (e) => o.onLog?.(`reloading the model after a restart failed: ${(e as Error).message}`),
      );
    } else this.markReady();
  }

  private onExit(proc: cp.ChildProcess, code: number | null, signal: string | null): void {
    if (proc !== this.proc) return;  // stopped on purpose
    this.conn?.dispose();
    this.proc = undefined;
    this.conn = undefined;
    this.ready = this.newReady();
    if (this.disposed) return;
    if (Date.now() - this.startedAt > (this.opts.stableMs ?? 30_000)) this.consecutiveDeaths = 0;
    const backoff = this.opts.backoffMs ?? [250, 1000, 4000, 15000, 30000];
    const restartInMs = backoff[Math.min(this.consecutiveDeaths, backoff.length - 1)];
    this.consecutiveDeaths++;
    this.opts.onDied?.({ code, signal, restartInMs, stderrTail: this.stderrTail });
    this.restartTimer = setTimeout(() => { this.restartTimer = undefined; this.restarts++; this.spawn(); }, restartInMs);
  }
}

let streamCounter = 0;
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
