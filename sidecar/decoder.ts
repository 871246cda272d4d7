// The one function every completion goes through: `decoder.generate()`. Without a drafter it is plain
// greedy decoding on the target (native/engine.ts); with a draft model or an EAGLE head it is FR-Spec
// speculative decoding (native/spec.ts) — same inputs, token for token the same greedy output, faster.
// `plain()` always decodes without speculation on the same model and context: calibration measures the
// speed-up against it.
import { Engine, type ModelInfo } from '../native/engine';
import { SpecEngine } from '../native/spec';
import { ErrorCode, type DecodingSummary, type InitializeResult } from './protocol';
import { SidecarError } from './errors';
import { type Decision, DecoderChoice } from './choice';
import { RecentCompletions } from './recent-completions';

export type ModelSummary = InitializeResult['model'];

export interface DecodeRequest {
  prompt: Int32Array;
  maxTokens: number;
  stopTokens: readonly number[];
  signal: AbortSignal;
  onToken?: (ids: Int32Array) => void;
}

export type DecodeStop = 'stop_token' | 'max_tokens' | 'context_full' | 'cancelled';

export interface DecodeResult {
  tokens: Int32Array;
  stop: DecodeStop;
  nPrompt: number;
  nReused: number;
  promptMs: number;
  decodeMs: number;
  /** Target forward passes spent on the generated tokens (= tokens for plain decoding). */
  steps: number;
  /** Tokens per target pass as the decoder counts them (a step's tokens after a stop token included; 1 for plain). */
  tau: number;
  /** What actually decoded this request. */
  mode: 'plain' | 'speculative';
  /** Speculative: drafting and verification ms, and the drafter's reading of the prompt (part of promptMs). */
  draftMs?: number;
  verifyMs?: number;
  draftPromptMs?: number;
  /** Speculative: per draft position (index 0 = depth 1), tokens drafted and accepted (native/spec.ts SpecResult). */
  draftedAt?: number[];
  acceptedAt?: number[];
  /** Why this decoder served the request (speculative decoders choose per request). */
  why?: string;
}

export interface Decoder {
  readonly summary: DecodingSummary;
  readonly model: ModelSummary;
  /** The completion path: per request, the decoder predicted faster from measured costs (same greedy output). */
  generate(req: DecodeRequest): Promise<DecodeResult>;
  /** The configured decoder, whatever the measurements say (calibration measures it). */
  configured(req: DecodeRequest): Promise<DecodeResult>;
  plain(req: DecodeRequest): Promise<DecodeResult>;
  /**
   * The `n` most likely first tokens after `prompt`, best first (other suggestions start with them).
   */
  firstTokens?(prompt: Int32Array, n: number, signal: AbortSignal): Promise<{ id: number; logit: number }[]>;
  /** After a calibration: its tokens/s seed the per-request cost estimates (real requests then replace them). */
  choose(plainTokensPerSecond: number, configuredTokensPerSecond: number, tau?: number): void;
  /** Uses a new draft vocabulary (FR-Spec top-k); a no-op for plain decoding. */
  setVocab(file: string, topK: number): Promise<void>;
  close(): Promise<void>;
}

export interface DrafterChoice { draft?: string; eagle?: string }

/** What `initialize` reports about the model, from the engine's own facts (both decoders load the same way). */
export function modelSummary(i: ModelInfo): ModelSummary {
  return { path: i.path, arch: i.arch, nVocab: i.nVocab, nLayers: i.nLayers, dModel: i.dModel, weightBytes: i.weightBytes, backend: i.backend, threads: i.threads, contextSize: i.contextSize };
}

/** Plain greedy decoding on the target; `note` says why speculation is off when a drafter was asked for. */
export class PlainDecoder implements Decoder {
  readonly summary: DecodingSummary;
  readonly model: ModelSummary;
  constructor(private readonly engine: Engine, note?: string) {
    this.summary = { mode: 'plain', active: 'plain', ...(note ? { note } : {}) };
    this.model = modelSummary(engine.info);
  }

  generate(req: DecodeRequest): Promise<DecodeResult> {
    return this.plain(req);
  }

  configured(req: DecodeRequest): Promise<DecodeResult> {
    return this.plain(req);
  }

  choose(): void {}

  async plain(req: DecodeRequest): Promise<DecodeResult> {
    const r = await this.engine.generate(req.prompt, {
      maxTokens: req.maxTokens, stopTokens: req.stopTokens, signal: req.signal, onToken: req.onToken,
    });
    return {
      tokens: r.tokens, stop: r.stop === 'stop_token' ? 'stop_token' : r.stop,
      nPrompt: r.nPrompt, nReused: r.nReused, promptMs: r.promptMs, decodeMs: r.decodeMs, steps: r.tokens.length, tau: 1, mode: 'plain',
    };
  }

  async setVocab(): Promise<void> {}

  /**
   * The prompt is in the KV cache after its completion: dropping its last token and evaluating that one again
   * gives the last position's logits for one token's work (the cache then holds exactly the prompt).
   */
  async firstTokens(prompt: Int32Array, n: number, signal: AbortSignal): Promise<{ id: number; logit: number }[]> {
    const cached = await this.engine.cachedTokens();
    let common = 0;
    while (common < cached.length && common < prompt.length - 1 && cached[common] === prompt[common]) common++;
    await this.engine.truncate(common);
    const r = await this.engine.eval(prompt.subarray(common), { logits: 'last', signal });
    return topLogits(r.logits.subarray((r.rows - 1) * r.vocab, r.rows * r.vocab), n);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

/** The `n` largest logits, best first (ties: the lower id first, as the engine's argmax). */
export function topLogits(logits: Float32Array, n: number): { id: number; logit: number }[] {
  const top: { id: number; logit: number }[] = [];
  for (let id = 0; id < logits.length; id++) {
    const logit = logits[id];
    if (top.length === n && !(logit > top[n - 1].logit)) continue;
    let i = top.length === n ? n - 1 : top.length;
    while (i > 0 && logit > top[i - 1].logit) i--;
    top.splice(i, 0, { id, logit });
    if (top.length > n) top.pop();
  }
  return top;
}

/**
 * A draft model reads only about this many of the prompt's last tokens (Drafter::prefill; the target verifies,
 * so output never changes). bench/draft-window.ts, 30 dev FIM prompts of 946 tokens, cold drafter cache
 * (bench/results/draft-window-2026-12-07.json): the whole prompt 945 tokens / 22.1 ms of drafter prompt reading
 * at τ 1.91; window 512: 605 / 12.5 ms, τ 1.93; window 256: 266 / 5.7 ms, τ 1.95 — no loss in τ.
 */
export const DRAFT_WINDOW = 256;

/** Context lookup: the shortest n-gram whose earlier occurrence proposes a draft (see SpecDecoder.run). */
export const LOOKUP_NGRAM = 3;
/** Context lookup: tokens proposed at most per step (a previous completion repeats in long runs). */
export const LOOKUP_TOKENS = 12;

/** FR-Spec speculative decoding with a draft model or an EAGLE head, restricted to a workspace vocabulary. */
export class SpecDecoder implements Decoder {
  summary: DecodingSummary;
  readonly model: ModelSummary;
  private vocab?: { file: string; topK: number };
  /** Per request: speculative or plain, from measured costs (choice.ts). */
  readonly choice = new DecoderChoice();
  /** The last completions, plain or speculative: the context lookup drafts from them too. */
  private readonly recent = new RecentCompletions();

  /**
   * `measureFirst`: choose per request from measured costs (never slower than plain on average); without it
   * the configured (speculative) decoder serves every request.
   */
  constructor(private readonly spec: SpecEngine, private readonly drafter: 'draft' | 'eagle', drafterPath: string, private readonly measureFirst: boolean) {
    this.summary = {
      mode: 'speculative', active: 'speculative', drafter: `${drafter === 'eagle' ? 'EAGLE head' : 'draft model'} ${drafterPath}`,
      ...(measureFirst ? { note: 'chosen per request from measured costs; measuring both decoders on the first requests' } : {}),
    };
    this.model = modelSummary(spec.info);
  }

  async generate(req: DecodeRequest): Promise<DecodeResult> {
    if (!this.measureFirst) return { ...(await this.run(req, this.drafter, true)), why: 'configured (no measurement)' };
    const d = this.choice.choose(req.maxTokens);
    const r = await this.run(req, d.mode === 'speculative' ? this.drafter : 'none', true);
    // Superseded or cancelled by the client (not a stop rule or the time budget, which abort without a reason).
    const interrupted = req.signal.aborted && (req.signal.reason as { code?: number } | undefined)?.code === ErrorCode.RequestCancelled;
    this.choice.record({ ...r, tokens: r.tokens.length, interrupted });
    this.describe(d);
    return { ...r, why: d.why };
  }

  configured(req: DecodeRequest): Promise<DecodeResult> {
    return this.run(req, this.drafter);
  }

  plain(req: DecodeRequest): Promise<DecodeResult> {
    return this.run(req, 'none');
  }

  /** The speculative engine's target logits at the prompt's last position (its cache keeps the prompt). */
  async firstTokens(prompt: Int32Array, n: number, signal: AbortSignal): Promise<{ id: number; logit: number }[]> {
    const r = await this.spec.generate(prompt, { drafter: 'none', topFirst: n, signal });
    return Array.from(r.tokens, (id, i) => ({ id, logit: r.topLogits![i] }));
  }

  choose(plainTps: number, specTps: number, tau = 1): void {
    this.choice.seed(plainTps, specTps, tau);
    this.describe({ mode: 'plain', why: 'calibrated' }, false);
  }

  async setVocab(file: string, topK: number): Promise<void> {
    this.vocab = { file, topK };
    this.choice.reset();  // FR-Spec's speed depends on the vocabulary
  }

  close(): Promise<void> {
    return this.spec.close();
  }

  /** The summary tells what serves now and why (the statistics and the status bar show it). */
  private describe(d: Decision, served = true): void {
    if (!this.measureFirst) return;
    const c = this.choice.costs;
    const next = c.plainMsPerToken !== undefined && c.specMsPerToken !== undefined
      ? (c.specMsPerToken < c.plainMsPerToken ? 'speculative' : 'plain') : d.mode;
    const { note: _old, ...rest } = this.summary;
    const tps = (ms?: number) => (ms ? `${(1000 / ms).toFixed(0)}` : '?');
    this.summary = {
      ...rest, active: next,
      note: `chosen per request from measured costs: speculative ${tps(c.specMsPerToken)} tokens/s (τ ${c.tau?.toFixed(2) ?? '?'}, ` +
        `drafter's prompt ${c.draftPromptMs?.toFixed(1) ?? '?'} ms), plain ${tps(c.plainMsPerToken)} tokens/s` +
        `${served ? `; last request ${d.mode}: ${d.why}` : ''}`,
    };
  }

  /**
   * `recent`: the completion path (generate) — the context lookup also drafts from the last completions, and
   * this one joins them. Calibration and `frspec demo` (configured, plain) decode one prompt with both
   * decoders in turn: there the second would copy the first's completion, so they neither use nor add to them.
   */
  private async run(req: DecodeRequest, mode: 'none' | 'draft' | 'eagle', recent = false): Promise<DecodeResult> {
    // EAGLE decodes plainly through its own loop (noDraft): the target's features stay in step with the
    // cache, so the next speculative request does not evaluate its whole prompt again.
    const eaglePlain = mode === 'none' && this.drafter === 'eagle';
    const drafter = eaglePlain ? 'eagle' : mode;
    const history = recent && mode !== 'none' ? this.recent.history() : undefined;
    const r = await this.spec.generate(req.prompt, {
      drafter, ...(eaglePlain ? { noDraft: true } : {}), maxTokens: req.maxTokens, stopTokens: req.stopTokens, signal: req.signal, onToken: req.onToken,
      // FR-Spec: the drafter proposes only the workspace's most frequent ids, plus the prompt's own ids.
      ...(mode !== 'none' && this.vocab ? { vocab: this.vocab.file, vocabTopK: this.vocab.topK, contextTokens: true } : {}),
      // A chain of 3 with context lookup first (code repeats itself: the tokens after an earlier occurrence
      // of the last 3-4 tokens cost no drafting). Lookup from 2-token matches lost τ on typing requests (demo
      // models, 300 requests of 12 tokens: τ 1.74 with lookup 2, 1.87 with 3 or none; 2-token matches were
      // accepted less often than the draft model's own chain).
      ...(mode !== 'none' ? { chain: 3, lookup: LOOKUP_NGRAM, lookupTokens: LOOKUP_TOKENS, draftWindow: DRAFT_WINDOW } : {}),
      // The last completions too (recent-completions.ts): the next keystroke's completion mostly repeats them.
      ...(history?.length ? { lookupHistory: history } : {}),
    });
    if (recent) this.recent.add(req.prompt, r.tokens);
    const stop = r.stop === 'stop_token' || r.stop === 'max_tokens' || r.stop === 'context_full' ? r.stop : 'cancelled';
    const spec = mode !== 'none';
    return {
      tokens: r.tokens, stop, nPrompt: r.nPrompt, nReused: r.nReused, promptMs: r.promptMs, decodeMs: r.totalMs - r.promptMs, steps: r.steps,
      tau: spec ? r.tau : 1, mode: spec ? 'speculative' : 'plain',
      ...(spec ? { draftMs: r.draftMs, verifyMs: r.verifyMs, draftPromptMs: r.draftPromptMs, draftedAt: r.draftedAt, acceptedAt: r.acceptedAt } : {}),
    };
  }
}

export interface LoadOptions { threads: number; contextSize: number; measureFirst?: boolean }

/** Loads the target with the decoder the settings ask for: speculative when a drafter is given. */
export async function createDecoder(model: string, drafter: DrafterChoice, opts: LoadOptions): Promise<Decoder> {
  const kind = drafter.eagle ? 'eagle' : drafter.draft ? 'draft' : undefined;
  const load = async (what: string, f: () => Promise<Decoder>) => {
    try { return await f(); } catch (e) {
      // The engine's errors start with the file they are about: prefix which load failed only when they do not.
      const message = (e as Error).message;
      const named = [model, drafter.draft, drafter.eagle].some((file) => file && message.startsWith(`${file}: `));
      throw new SidecarError(ErrorCode.ModelLoadFailed, named ? message : `${what}: ${message}`);
    }
  };
  if (!kind) return load(model, async () => new PlainDecoder(await Engine.load(model, { threads: opts.threads, contextSize: opts.contextSize })));
  const drafterPath = (drafter.eagle ?? drafter.draft)!;
  const { measureFirst = true, ...engineOpts } = opts;
  return load(`${model} with ${drafterPath}`, async () => new SpecDecoder(await SpecEngine.load(model, { ...engineOpts, [kind]: drafterPath }), kind, drafterPath, measureFirst));
}
