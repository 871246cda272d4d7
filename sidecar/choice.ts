// Which decoder serves a request: speculative or plain, chosen per request from what each costs on this
// machine, measured on real requests (running averages), not from one calibration at start-up. Greedy output
// is identical either way, so the choice is only about speed: predict
//   plain ≈ (L - 1) × (plain ms per step)      speculative ≈ drafter's prompt ms + ((L - 1) ÷ τ) × (speculative ms per step)
// for the L tokens the request will likely produce, and pick the cheaper. The first token comes with the prompt, so
// both count the tokens after it: τ is those per verify step (counting the first one too made a request cut short
// after 2 tokens, 1 step, nothing accepted, read as τ 2; while typing most requests are cut short, and a file where
// the drafter missed, τ 1.1, was predicted at τ 2 and decoded speculatively, 6-20% slower end to end).
// The two step costs are compared as a RATIO measured close in time: the load on this machine changes both alike
// (other processes share its cores), but only one decoder serves at a time, so an average of the other one is
// as old as its last re-measurement (one plain request measured at a load peak kept plain looking slow, and a
// file where speculation does not pay was decoded speculatively). So: the decoder that served lately gives the
// current cost per step (running average); the other's is that times the ratio of the two, from running sums
// over neighbouring requests only (a re-measurement and the request just before or after it).
// τ and L follow the text being typed: while typing, each request's prompt is the previous one's plus a
// character (the engine reuses most of its cache), and the previous request's τ and length predict this one's
// far better than the session's average does (typing replay, demo models, 12-token requests: τ 2.7 in one
// file, 1.1 in another, where speculation costs 1.35x plain). So τ and L come from the requests of the current
// context — the run of requests whose prompts mostly reuse the cache — falling back to the session's averages
// in a new context (and blending from the session's τ). A request that cannot profit (a drafter that is slow here, τ near 1, short completions
// that do not pay back the drafter's prompt reading) decodes plainly. Every `EXPLORE_EVERY`-th decision runs
// the other decoder so the ratio follows the text; until both have a measurement (a calibration seeds them)
// they alternate. A due re-measurement waits for a request that follows a pause: while typing that is a burst's
// first keystroke, which the next keystroke supersedes, so the user rarely waits for the slower decoder (the
// burst's last keystroke, the one the user waits for, follows the keystroke before it closely). Waiting for a
// request that follows a served one was not enough: where requests finish between keystrokes, most are served,
// and the typing replay re-measured on the same last keystroke of a burst in two runs (the decision count is
// the same from run to run).

/** Weight of the newest request in the running averages (about the last 8 requests count). */
const ALPHA = 1 / 8;
/** One decision in this many runs the decoder not predicted cheaper, to keep its measurement fresh. */
export const EXPLORE_EVERY = 16;
/** Weight of the newest request in the current context's τ and length (the last 2-3 requests count). */
const CONTEXT_ALPHA = 1 / 2;
/** A request whose prompt reuses at least this share of the engine's cache continues the current context. */
const SAME_CONTEXT = 0.5;
/** Weight of the newest pair in the step-cost ratio (about the last 4 pairs count). */
const RATIO_ALPHA = 1 / 4;
/**
 * A due re-measurement waits at most this many decisions for a request that follows a pause (more than a burst
 * of typing: with 16, the typing replay's bursts of 20 keystrokes forced some onto a served last keystroke).
 */
export const EXPLORE_WAIT = 2 * EXPLORE_EVERY;
/**
 * Idle ms before a request that make it follow a pause: keystrokes come 100-200 ms apart while typing (the typing
 * benchmark: 150 ms, then a 500 ms pause).
 */
const PAUSE_MS = 300;
/** A step-cost ratio is sampled from two requests at most this many requests apart (neighbours). */
const PAIR_WITHIN = 2;

export type Mode = 'plain' | 'speculative';

/** One finished request, as the decoder measured it. */
export interface Measured {
  mode: Mode;
  tokens: number;
  /** Decoding after prompt processing. */
  decodeMs: number;
  steps: number;
  /** Speculative only: drafting and verification ms, and the drafter's prompt reading (part of prompt processing). */
  draftMs?: number;
  verifyMs?: number;
  draftPromptMs?: number;
  /** Cut short by a newer request or the client: its token count says nothing about completion lengths. */
  interrupted?: boolean;
  /** Prompt tokens, and of them those reused from the engine's cache (the previous request's prompt). */
  nPrompt?: number;
  nReused?: number;
}

export interface Costs {
  plainMsPerToken?: number;
  specMsPerToken?: number;
  draftMsPerStep?: number;
  verifyMsPerStep?: number;
  tau?: number;
  /** Speculative ms per verify step ÷ plain ms per token after the first, from neighbouring requests (the load cancels). */
  stepRatio?: number;
  draftPromptMs?: number;
  tokensPerRequest?: number;
  /** Requests measured per decoder (a calibration counts as one each). */
  plainRequests: number;
  specRequests: number;
  /** The current context's τ and completion length (absent until measured in it). */
  contextTau?: number;
  contextTokens?: number;
}

export interface Decision { mode: Mode; why: string; plainMs?: number; specMs?: number; tau?: number }

const ema = (old: number | undefined, x: number, w = ALPHA) => (old === undefined ? x : old + w * (x - old));

/**
 * Running sums (exponentially weighted) of what one decoder spent: ratios of these are per token / per step,
 * so a request weighs by its tokens (a 2-token request cut short by the next keystroke moves little).
 */
interface Sums { ms: number; tokens: number; decoded: number; steps: number; draftMs: number; verifyMs: number }
const addTo = (s: Sums | undefined, m: Measured): Sums => {
  const x = { ms: m.decodeMs, tokens: m.tokens, decoded: m.tokens - 1, steps: m.steps, draftMs: m.draftMs ?? 0, verifyMs: m.verifyMs ?? 0 };
  if (!s) return x;
  const k = Object.keys(x) as (keyof Sums)[];
  const out = { ...s };
  for (const key of k) out[key] = s[key] + ALPHA * (x[key] - s[key]);
  return out;
};

export class DecoderChoice {
  private c: Costs = { plainRequests: 0, specRequests: 0 };
  private plainSums?: Sums;
  private specSums?: Sums;
  private decisions = 0;
  private records = 0;
  /** The last request that decoded something, when (in records), and whether it is in the pair sums. */
  private last?: { m: Measured; at: number; paired: boolean };
  /** Running sums per decoder over the requests measured next to one of the other decoder. */
  private pairs: { plain?: Sums; speculative?: Sums } = {};
  /** When the last request ended (ms): a request after a pause starts a burst of typing (or is not typing). */
  private lastEnd?: number;
  /** The decision at which a re-measurement fell due, while it waits for a request that follows a served one. */
  private exploreDueAt?: number;

  get costs(): Costs { return { ...this.c }; }

  /** A new model, drafter or vocabulary: the old measurements no longer apply. */
  reset(): void {
    this.c = { plainRequests: 0, specRequests: 0 };
    this.plainSums = this.specSums = this.last = this.exploreDueAt = undefined;
    this.pairs = {};
    this.decisions = this.records = 0;
    this.lastEnd = undefined;
  }

  /** Calibration's tokens/s of both decoders on its fixed prompt: a starting point, replaced by real requests. */
  seed(plainTokensPerSecond: number, specTokensPerSecond: number, tau: number): void {
    // As one request of 48 tokens each (calibration's length): real requests then blend in.
    const as = (tps: number, t: number): Measured => ({ mode: 'plain', tokens: 48, decodeMs: 48 * 1000 / tps, steps: Math.max(1, Math.round(47 / t)) });
    if (plainTokensPerSecond > 0) {
      const p = this.plainSums = addTo(this.plainSums, as(plainTokensPerSecond, 1));
      this.c.plainMsPerToken = p.ms / p.tokens;
      this.c.plainRequests++;
    }
    if (specTokensPerSecond > 0) {
      const sp = this.specSums = addTo(this.specSums, as(specTokensPerSecond, tau));
      this.c.specMsPerToken = sp.ms / sp.tokens;
      this.c.tau ??= tau;
      this.c.specRequests++;
    }
  }

  record(m: Measured, now = performance.now()): void {
    const c = this.c;
    const at = ++this.records;
    this.lastEnd = now;
    // A prompt that reuses little of the cache starts a new context (another file, another place in it).
    if (m.nPrompt !== undefined && m.nReused !== undefined && m.nReused < SAME_CONTEXT * m.nPrompt) c.contextTau = c.contextTokens = undefined;
    if (m.tokens < 2 || !(m.decodeMs > 0)) return;  // nothing decoded to learn from (the first token comes with the prompt)
    if (m.mode === 'speculative' && !(m.steps > 0)) return;
    // The step-cost ratio: running sums over the requests that neighbour one of the other decoder (the load
    // was about the same for both); of sums, so a request cut short after a step or two (whose decoding
    // includes a fixed start-up cost) weighs by its steps.
    const l = this.last;
    if (l && l.m.mode !== m.mode && at - l.at <= PAIR_WITHIN) {
      if (!l.paired) this.pairs[l.m.mode] = addTo(this.pairs[l.m.mode], l.m);
      this.pairs[m.mode] = addTo(this.pairs[m.mode], m);
      const ps = this.pairs.speculative!, pp = this.pairs.plain!;
      c.stepRatio = (ps.ms / ps.steps) / (pp.ms / pp.decoded);
    }
    this.last = { m, at, paired: !!(l && l.m.mode !== m.mode && at - l.at <= PAIR_WITHIN) };
    // While typing most requests are superseded after a few tokens: only finished ones tell the length.
    if (!m.interrupted) {
      c.tokensPerRequest = ema(c.tokensPerRequest, m.tokens);
      c.contextTokens = ema(c.contextTokens, m.tokens, CONTEXT_ALPHA);
    }
    // A new context's τ starts from the session's: one request that accepted nothing in its only step is not τ 1
    // for the rest of the context (plain requests do not measure τ, so that would stick until a re-measurement).
    if (m.mode === 'speculative') c.contextTau = ema(c.contextTau ?? c.tau, (m.tokens - 1) / m.steps, CONTEXT_ALPHA);
    if (m.mode === 'plain') {
      const p = this.plainSums = addTo(this.plainSums, m);
      c.plainMsPerToken = p.ms / p.tokens;
      c.plainRequests++;
      return;
    }
    const sp = this.specSums = addTo(this.specSums, m);
    c.specMsPerToken = sp.ms / sp.tokens;
    c.tau = sp.decoded / sp.steps;
    c.draftMsPerStep = sp.draftMs / sp.steps;
    c.verifyMsPerStep = sp.verifyMs / sp.steps;
    if (m.draftPromptMs !== undefined) c.draftPromptMs = ema(c.draftPromptMs, m.draftPromptMs);
    c.specRequests++;
  }

  /** The decoder for a request of at most `maxTokens` tokens. */
  choose(maxTokens: number, now = performance.now()): Decision {
    const c = this.c;
    const n = this.decisions++;
    if (c.plainMsPerToken === undefined || c.specMsPerToken === undefined) {
      const mode: Mode = c.specRequests <= c.plainRequests ? 'speculative' : 'plain';
      return { mode, why: 'measuring both decoders on real requests' };
    }
    const p = this.predict(maxTokens);
    const cheaper: Mode = p.specMs < p.plainMs ? 'speculative' : 'plain';
    if (n % EXPLORE_EVERY === EXPLORE_EVERY - 1) this.exploreDueAt ??= n;
    if (this.exploreDueAt !== undefined && (this.lastEnd === undefined || now - this.lastEnd >= PAUSE_MS || n - this.exploreDueAt >= EXPLORE_WAIT)) {
      this.exploreDueAt = undefined;
      return { ...p, mode: cheaper === 'plain' ? 'speculative' : 'plain', why: `re-measuring (every ${EXPLORE_EVERY}th request)` };
    }
    return { ...p, mode: cheaper, why: `predicted ${p.specMs.toFixed(1)} ms speculative (τ ${p.tau.toFixed(2)}) vs ${p.plainMs.toFixed(1)} ms plain for ~${p.tokens.toFixed(0)} tokens` };
  }

  /**
   * Predicted decoding ms of each decoder for a request of at most `maxTokens` (needs both measured): the
   * current context's τ and length where measured, else the session's; the cost per step of the decoder that
   * decoded last, and the other's from the step-cost ratio.
   */
  predict(maxTokens: number): { plainMs: number; specMs: number; tokens: number; tau: number } {
    const c = this.c;
    const tokens = Math.max(1, Math.min(maxTokens, c.contextTokens ?? c.tokensPerRequest ?? maxTokens));
    const p = this.plainSums!, sp = this.specSums!;
    let plainStep = p.decoded > 0 ? p.ms / p.decoded : c.plainMsPerToken!;
    let specStep = sp.steps > 0 ? sp.ms / sp.steps : c.specMsPerToken! * (c.tau ?? 1);
    const ratio = c.stepRatio ?? specStep / plainStep;
    if (this.last?.m.mode === 'speculative') plainStep = specStep / ratio;
    else specStep = plainStep * ratio;
    const tau = Math.max(1, c.contextTau ?? c.tau ?? 1);
    return { plainMs: (tokens - 1) * plainStep, specMs: (c.draftPromptMs ?? 0) + ((tokens - 1) / tau) * specStep, tokens, tau };
  }
}
