// The sidecar's request handlers on one JSON-RPC connection: load a model, complete (newest request wins,
// streamed), cancel, statistics with a measured speed-up, vocabulary builds with progress, shutdown.
// Every failure reaches the client as a JSON-RPC error with a code from protocol.ts and a readable message.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CancellationToken, type MessageConnection, rpc } from './jsonrpc';
import { buildVocab, coverage, writeVocab } from '../vocab';
import { calibrate, newCalibrationProgress } from './calibrate';
import { SidecarError } from './errors';
import { LatestWins } from './scheduler';
import { fileStamps, Session } from './session';
import { completeParams, initializeParams, MAX_ID_CHARS, MAX_TOP_K, vocabBuildParams } from './params';
import { Fields, invalid } from './validate';
import { checkOutputFile, isUnderSystemRoot } from '../common/safe-fs';
import { completionStats, Stats } from './stats';
import { findStop, type StopHit } from './stop-rules';
import { decodeText } from './decode-text';
import { encodePrompt } from './prompt';
import { capSuffix, PromptRate } from './suffix-cap';
import {
  type CancelParams, type CancelResult, type CompleteAlternative, type CompleteParams, type CompleteResult, type CompleteStop, type CompletionStats,
  ErrorCode, type InitializeParams, type InitializeResult, Method, Notify, type StatsResult, type VocabBuildParams,
  type VocabBuildResult, type VocabLoadParams, type VocabSummary,
} from './protocol';

type Handler = (params: any, token: CancellationToken) => Promise<unknown>;

export class SidecarServer {
  private session?: Session;
  /** The model whose files changed on disk and failed to load again (see currentSession). */
  private lost?: { params: InitializeParams; file: string; stamps: Map<string, string>; message: string };
  private initializing: Promise<unknown> = Promise.resolve();
  private readonly scheduler = new LatestWins();
  private readonly stats = new Stats();
  /** Prompt tokens/s of this model on this machine, measured on requests: sizes the suffix under `promptBudgetMs`. */
  private readonly promptRate = new PromptRate();
  /** The latest completion's prompt (calibration decodes from it, keeping its KV cache). */
  private lastPrompt?: Int32Array;
  private readonly streams = new Map<string, (why: string) => void>();
  private vocabBuild?: AbortController;
  private shuttingDown = false;
  /** Requests being handled (the process waits for them when stdin closes). */
  inFlight = 0;

  constructor(private readonly conn: MessageConnection, private readonly log: (line: string) => void) {}

  register(): void {
    const on = (method: string, handler: Handler) => {
      // By-name params arrive as (params, token); anything else (positional arrays, none) is refused.
      this.conn.onRequest(method, async (...args: unknown[]) => {
        const token = args[args.length - 1] as CancellationToken;
        const params = args.length === 2 ? args[0] : undefined;
        this.inFlight++;
        try {
          if (this.shuttingDown && method !== Method.shutdown) throw new SidecarError(ErrorCode.ShuttingDown, 'the sidecar is shutting down');
          if (method !== Method.stats && method !== Method.shutdown && (params === null || typeof params !== 'object' || Array.isArray(params))) {
            throw new SidecarError(ErrorCode.InvalidParams, `${method}: params must be an object with named fields`);
          }
          return await handler(params ?? {}, token);
        } catch (e) {
          throw toResponseError(e);
        } finally {
          this.inFlight--;
        }
      });
    };
    on(Method.initialize, (p) => this.initialize(p));
    on(Method.complete, (p, t) => this.complete(p, t));
    on(Method.cancel, async (p) => this.cancel(p));
    on(Method.stats, async () => this.snapshot());
    on(Method.calibrate, () => this.calibrate());
    on(Method.vocabBuild, (p, t) => this.buildVocab(p, t));
    on(Method.vocabLoad, (p) => this.loadVocab(p));
    on(Method.shutdown, () => this.shutdown());
  }

  async initialize(raw: InitializeParams): Promise<InitializeResult> {
    const p = initializeParams(raw);
    this.lost = undefined;
    return this.load(p);
  }

  /** Loads `p` after any load in progress (one model at a time: a new one replaces the old once loaded). */
  private load(p: InitializeParams): Promise<InitializeResult> {
    const run = this.initializing.then(async () => {
      await this.closeSession('the model is being replaced');
      const t0 = performance.now();
      this.session = await Session.load(p);
      this.log(`loaded ${p.model} in ${(performance.now() - t0).toFixed(0)} ms (${this.session.decoder.summary.mode} decoding)`);
      if (p.calibrate !== false) void this.calibrate().catch(() => undefined);
      return this.session.describe();
    });
    this.initializing = run.catch(() => undefined);
    return run;
  }

  async complete(raw: CompleteParams, token: CancellationToken): Promise<CompleteResult> {
    const received = performance.now();
    const warmup = new Fields(Method.complete, raw as never).bool('warmup', false);
    if (!warmup) this.stats.requests.received++;
    let s: Session, p: CompleteParams, prompt: Int32Array, suffixCutTokens = 0;
    try {
      s = await this.currentSession();
      p = completeParams(raw, s.limits.maxTokens);
      prompt = encodePrompt(s.tok, p.parts, s.limits);
      // A prompt budget: the FIM suffix, re-evaluated on every keystroke, is cut to what fits in it.
      const cap = p.promptBudgetMs ? this.promptRate.suffixCap(p.promptBudgetMs) : undefined;
      const capped = cap !== undefined ? capSuffix(s.tok, p.parts, cap) : undefined;
      if (capped?.cutTokens) {
        prompt = encodePrompt(s.tok, capped.parts, s.limits);
        suffixCutTokens = capped.cutTokens;
      }
    } catch (e) {
      if (!warmup) this.stats.requests.failed++;
      throw e;
    }
    const maxTokens = p.maxTokens!;
    this.lastPrompt = prompt;  // fits with calibration's 48 tokens: limits keep room for maxTokens >= 64
    const job = this.scheduler.submit((signal) => this.decode(s, prompt, maxTokens, p, signal, received, suffixCutTokens));
    const cancelSub = token.onCancellationRequested(() => job.cancel('cancelled by the client'));
    if (p.streamId) this.streams.set(p.streamId, job.cancel);
    try {
      const r = await job.promise;
      if (!p.warmup) this.stats.completed(r.stats);
      return r;
    } catch (e) {
      if (p.warmup) { /* not counted */ }
      else if (e instanceof SidecarError && e.code === ErrorCode.RequestCancelled) this.stats.requests.cancelled++;
      else this.stats.requests.failed++;
      throw e;
    } finally {
      cancelSub.dispose();
      if (p.streamId && this.streams.get(p.streamId) === job.cancel) this.streams.delete(p.streamId);
    }
  }

  private async decode(s: Session, prompt: Int32Array, maxTokens: number, p: CompleteParams, signal: AbortSignal, received: number, suffixCutTokens = 0): Promise<CompleteResult> {
    const started = performance.now();
    const onText = p.streamId ? (text: string) => void this.conn.sendNotification(Notify.partial, { streamId: p.streamId, text }) : undefined;
    const { text, stop, result: r, firstTokenAt } = await decodeText(s.tok, (req) => s.decoder.generate(req), prompt, { ...p, maxTokens }, signal, onText);
    // The target's prompt speed: the drafter's reading of the prompt (speculative) is left out, so that both
    // decoders cut the suffix alike at the same load and write the same completion.
    this.promptRate.record(r.nPrompt - r.nReused, r.promptMs - (r.draftPromptMs ?? 0));
    if (signal.aborted) throw signal.reason;
    const done = performance.now();
    const stats: CompletionStats = {
      ...completionStats(r, { received, started, firstTokenAt, done }),
      ...(r.why ? { why: r.why } : {}), ...(suffixCutTokens ? { suffixCutTokens } : {}),
    };
    // Other suggestions only when asked (the editor asks when the user cycles): after the greedy one is done.
    if (p.alternatives && r.tokens.length > 0 && s.decoder.firstTokens) {
      const alternatives = await this.alternatives(s, prompt, r.tokens[0], text, maxTokens, p, signal);
      return { text, stop, stats, alternatives };
    }
    return { text, stop, stats };
  }

  /**
   * The target's next-best first tokens after the greedy one (ranked by logit), each continued greedily with
   * the same stop rules and time budget; texts equal to the greedy one or to a better alternative are left out.
   * The prompt is in the KV cache already, so each costs its own tokens only. A newer request cancels them.
   */
  private async alternatives(s: Session, prompt: Int32Array, greedyFirst: number, greedyText: string, maxTokens: number, p: CompleteParams, signal: AbortSignal): Promise<CompleteAlternative[]> {
    const firsts = await s.decoder.firstTokens!(prompt, p.alternatives! + 1, signal);
    const seen = new Set([greedyText]);
    const out: CompleteAlternative[] = [];
    for (const first of firsts) {
      if (out.length === p.alternatives) break;
      if (first.id === greedyFirst || s.tok.specials.eog.includes(first.id)) continue;
      const alt = await this.continueGreedily(s, prompt, first.id, maxTokens, p, signal);
      if (signal.aborted) throw signal.reason;
      if (alt.text.length === 0 || seen.has(alt.text)) continue;
      seen.add(alt.text);
      out.push({ ...alt, logit: first.logit });
    }
    return out;
  }

  /** `first` then greedy decoding on prompt + [first], with the request's stop rules and time budget. */
  private async continueGreedily(s: Session, prompt: Int32Array, first: number, maxTokens: number, p: CompleteParams, signal: AbortSignal): Promise<{ text: string; stop: CompleteStop }> {
    const stream = s.tok.streamDecoder();
    let text = stream.push(first);
    let hit = findStop(text, p);
    if (hit) return { text: text.slice(0, hit.length), stop: hit.reason };
    if (maxTokens === 1) return { text: text + stream.flush(), stop: 'max_tokens' };
    const inner = new AbortController();
    const forward = () => inner.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    let timedOut = false;
    const timer = p.timeBudgetMs ? setTimeout(() => { timedOut = true; inner.abort(); }, p.timeBudgetMs) : undefined;
    try {
      const withFirst = new Int32Array(prompt.length + 1);
      withFirst.set(prompt);
      withFirst[prompt.length] = first;
      const r = await s.decoder.plain({
        prompt: withFirst, maxTokens: maxTokens - 1, stopTokens: s.tok.specials.eog, signal: inner.signal,
        onToken: (ids) => {
          if (hit) return;
          for (const id of ids) text += stream.push(id);
          hit = findStop(text, p);
          if (hit) { text = text.slice(0, hit.length); inner.abort(); }
        },
      });
      const stopped = hit as StopHit | undefined;  // set in onToken
      if (stopped) return { text, stop: stopped.reason };
      text += stream.flush();
      return { text, stop: timedOut ? 'time_budget' : r.stop === 'stop_token' ? 'end_of_text' : r.stop === 'context_full' ? 'context_full' : 'max_tokens' };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    }
  }

  cancel(raw: CancelParams): CancelResult {
    const p: CancelParams = { streamId: new Fields(Method.cancel, raw as never).str('streamId', { maxLength: MAX_ID_CHARS }) };
    if (p.streamId !== undefined) {
      const cancel = this.streams.get(p.streamId);
      if (!cancel) return { cancelled: 0 };
      cancel('cancelled by the client');
      return { cancelled: 1 };
    }
    return { cancelled: this.scheduler.cancelAll('cancelled by the client') };
  }

  snapshot(): StatsResult {
    this.stats.requests.superseded = this.scheduler.superseded;
    return this.stats.snapshot(this.session?.decoder.summary ?? { mode: 'plain', active: 'plain', note: 'no model loaded' }, this.session?.vocab);
  }

  async calibrate() {
    const s = await this.currentSession();
    const progress = newCalibrationProgress();  // survives interruptions by completions
    // On the editor's latest prompt: calibration then leaves that prompt's KV cache in place for the next keystroke.
    const prompt = () => (this.session === s ? this.lastPrompt : undefined);
    const c = await this.scheduler.submitBackground((signal) => calibrate(s.decoder, s.tok, signal, { prompt }, progress));
    if (this.session === s) {
      this.stats.calibration = c;
      s.decoder.choose(c.plainTokensPerSecond, c.decoderTokensPerSecond, c.tau);
      this.log(`calibrated: plain ${c.plainTokensPerSecond.toFixed(1)} tokens/s, decoder ${c.decoderTokensPerSecond.toFixed(1)} tokens/s, τ ${c.tau.toFixed(2)}`);
    }
    return c;
  }

  async buildVocab(raw: VocabBuildParams, token: CancellationToken): Promise<VocabBuildResult> {
    const p = vocabBuildParams(raw);
    const s = await this.currentSession();
    let folderStat: fs.Stats | undefined;
    try { folderStat = fs.statSync(p.folder); } catch { /* reported below */ }
    if (!folderStat?.isDirectory() || isUnderSystemRoot(p.folder)) throw invalid(Method.vocabBuild, 'folder', 'an existing folder outside /proc, /sys and /dev', p.folder);
    // The output is checked (and its folder created) before counting: a folder or /proc path fails now.
    for (const [field, file] of [['out', p.out], ['cacheFile', p.cacheFile]] as const) {
      if (file === undefined) continue;
      try { checkOutputFile(file, field === 'out' ? 'vocabulary file' : 'count cache'); } catch (e) {
        throw new SidecarError(ErrorCode.InvalidParams, `vocab/build: \`${field}\`: ${(e as Error).message}`);
      }
    }
    // One build at a time: a newer one (e.g. after a save) replaces a running one.
    this.vocabBuild?.abort(new SidecarError(ErrorCode.RequestCancelled, 'superseded by a newer vocabulary build'));
    const ctrl = new AbortController();
    this.vocabBuild = ctrl;
    const sub = token.onCancellationRequested(() => ctrl.abort(new SidecarError(ErrorCode.RequestCancelled, 'vocabulary build cancelled')));
    const t0 = performance.now();
    try {
      const r = await buildVocab(p.folder, s.tok, {
        cacheFile: p.cacheFile ?? `${p.out}.cache`, signal: ctrl.signal, progressIntervalMs: 200,
        onProgress: (pr) => {
          if (p.progressToken) void this.conn.sendNotification(Notify.vocabProgress, { token: p.progressToken, files: pr.files, filesTotal: pr.filesTotal, tokens: pr.tokens, fraction: pr.fraction });
        },
      });
      writeVocab(p.out, r.vocab);
      const ms = performance.now() - t0;
      let summary: VocabSummary;
      const loaded = p.load !== false && this.session === s;
      if (loaded) {
        summary = await s.loadVocab(p.out);
        this.recalibrate(s);  // FR-Spec's speed depends on the vocabulary
      }
      else {
        const v = r.vocab;
        summary = { file: p.out, fingerprint: v.fingerprint, files: v.corpus.files, bytes: v.corpus.bytes, tokens: v.corpus.tokens, distinct: v.ids.length, createdAt: v.createdAt, coverage: coverage(v.counts, v.corpus.tokens), topK: s.params.topK ?? 32768 };
      }
      this.log(`vocabulary of ${p.folder}: ${summary.files} files, ${summary.tokens} tokens → ${p.out} in ${ms.toFixed(0)} ms`);
      return { ...summary, ms, filesFromCache: r.filesFromCache, filesTokenized: r.filesTokenized, loaded };
    } catch (e) {
      if (ctrl.signal.aborted) throw ctrl.signal.reason;
      throw e instanceof SidecarError ? e : new SidecarError(ErrorCode.VocabFailed, (e as Error).message);
    } finally {
      sub.dispose();
      if (this.vocabBuild === ctrl) this.vocabBuild = undefined;
    }
  }

  async loadVocab(raw: VocabLoadParams): Promise<VocabSummary> {
    const f = new Fields(Method.vocabLoad, raw as never);
    const p: VocabLoadParams = { file: f.path('file', true), topK: f.int('topK', 1, MAX_TOP_K) };
    const s = await this.currentSession();
    const summary = await s.loadVocab(p.file, p.topK);
    this.recalibrate(s);
    return summary;
  }

  private recalibrate(s: Session): void {
    if (s.params.calibrate !== false && s.decoder.summary.mode === 'speculative') void this.calibrate().catch(() => undefined);
  }

  async shutdown(): Promise<null> {
    this.shuttingDown = true;
    this.vocabBuild?.abort(new SidecarError(ErrorCode.ShuttingDown, 'the sidecar is shutting down'));
    await this.closeSession('the sidecar is shutting down');
    return null;
  }

  private async closeSession(why: string): Promise<void> {
    this.scheduler.cancelAll(why);
    await this.scheduler.idle();
    const s = this.session;
    this.session = undefined;
    this.lastPrompt = undefined;
    this.stats.resetModel();
    if (s) await s.close();
  }

  /**
   * The loaded session, once any `initialize` sent before this request has finished (a request right behind
   * `initialize` waits for it). A model file changed on disk since loading is loaded again first; when
   * that fails, requests fail with the reason until the file changes again or a new `initialize` comes.
   */
  private async currentSession(): Promise<Session> {
    await this.initializing;
    const s = this.session;
    const changed = s?.changedFile();
    if (s && changed) {
      this.log(`${changed} changed on disk since it was loaded: loading it again`);
      await this.reload(s.params, changed);
    } else if (!s && this.lost && !sameStamps(this.lost.stamps, fileStamps(this.lost.params))) {
      this.log(`${this.lost.file} changed again: loading it again`);
      await this.reload(this.lost.params, this.lost.file);
    }
    if (!this.session && this.lost) throw new SidecarError(ErrorCode.ModelLoadFailed, this.lost.message);
    if (!this.session) throw new SidecarError(ErrorCode.NotInitialized, 'no model is loaded: send `initialize` with a model path first');
    return this.session;
  }

  private async reload(params: InitializeParams, file: string): Promise<void> {
    const stamps = fileStamps(params);
    try {
      await this.load(params);
      this.lost = undefined;
    } catch (e) {
      this.lost = {
        params, file, stamps,
        message: `${file} changed on disk since it was loaded and cannot be loaded again (${(e as Error).message}); ` +
          'it is retried when the file changes again, or send `initialize`',
      };
      this.log(this.lost.message);
    }
  }
}

function sameStamps(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function toResponseError(e: unknown): InstanceType<typeof rpc.ResponseError<void>> {
  if (e instanceof rpc.ResponseError) return e;
  if (e instanceof SidecarError) return new rpc.ResponseError(e.code, e.message);
  const err = e as Error;
  if (err?.name === 'AbortError') return new rpc.ResponseError(ErrorCode.RequestCancelled, err.message);
  return new rpc.ResponseError(ErrorCode.EngineFailed, err?.message ?? String(e));
}
