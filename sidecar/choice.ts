// Which decoder serves a request: speculative or plain, chosen per request from what each costs on this
// machine, measured on real requests (running averages), not from one calibration at start-up. Greedy output
// is identical either way, so the choice is only about speed: predict
//   plain ≈ (L - 1 + FIXED_STEPS) × (plain ms per step)
//   speculative ≈ drafter's prompt ms + ((L - 1) ÷ τ + FIXED_STEPS) × (speculative ms per step)
// for the L tokens the request will likely produce, and pick the cheaper. The first token comes with the prompt, so
// both count the tokens after it: τ is those per verify step (counting the first one too made a request cut short
// after 2 tokens, 1 step, nothing accepted, read as τ 2; while typing most requests are cut short, and a file where
// the drafter missed, τ 1.1, was predicted at τ 2 and decoded speculatively, 6-20% slower end to end).
// Each request costs a fixed start-up part plus its steps: a request of x steps (plain: tokens after the first)
// is counted as x + FIXED_STEPS steps of its decoder. Without it, a request cut short after a step or two read
// as 2-2.5x the per-step cost of a whole one (typing replay, 1-2 step requests against 6+), and a decoder whose
// re-measurements were mostly cut short (the other decoder serving, re-measuring on a burst's first keystroke)
// looked slower than it was and was not chosen again (run j: 279 of 300 requests plain, decode 1.00x, while
// its speculative re-measurements decoded faster than plain).
// The load on this machine changes both decoders alike (other processes share its cores), but only one serves
// at a time. So each decoder's cost per step is kept RELATIVE to a load level: the level follows the requests
// of the decoder that serves (each one's measured ms over what its relative cost predicts), and a decoder's
// relative cost learns from all of its requests, served and re-measured, divided by the level of their time.
// A re-measurement then needs no partner request: it counts in full against the current level, and the
// speculative side keeps what its served requests measured (the earlier chooser took the other decoder's
// cost only from re-measurements and the requests beside them; one plain request at a load peak kept plain
// looking slow, and short speculative re-measurements kept speculation looking slow).
// τ and L follow the text being typed: while typing, each request's prompt is the previous one's plus a
// character (the engine reuses most of its cache), and the previous request's τ and length predict this one's
// far better than the session's average does (typing replay, demo models, 12-token requests: τ 2.7 in one
// file, 1.1 in another, where speculation costs 1.35x plain). So τ and L come from the requests of the current
// context — the run of requests whose prompts mostly reuse the cache — falling back to the session's averages
// in a new context (and blending from the session's τ). A request that cannot profit (a drafter that is slow here, τ near 1, short completions
// that do not pay back the drafter's prompt reading) decodes plainly. Every `EXPLORE_EVERY`-th decision runs
// the other decoder so its cost follows the text; until both have a measurement (a calibration seeds them)
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
/**
 * Plain is not re-measured while speculation is predicted at least this many times cheaper: the load changes
 * both alike, so no drift of plain's relative cost flips that choice, and each re-measurement cost the user a
 * request at that many times the time (typing with the last completions as lookup drafts: τ 7-10, speculation
 * 2.5-4x plain's decode speed; 1 request in EXPLORE_EVERY at that cost is 10-15% of the decode time).
 */
export const EXPLORE_CLEAR = 2.5;
/** Weight of the newest request in the current context's τ and length (the last 2-3 requests count). */
const CONTEXT_ALPHA = 1 / 2;
/** A request whose prompt reuses at least this share of the engine's cache continues the current context. */
const SAME_CONTEXT = 0.5;
/**
 * A request's fixed start-up cost, in steps of its decoder: a request of x steps costs about x + FIXED_STEPS
 * steps' time. Typing replay (demo models, load 1-3): plain requests of 2 tokens after the first cost 1.6-2.1x
 * the per-token time of 10-11 token ones (a start-up of 1.3-2.2 plain steps), speculative 2-step ones 1.0-1.3x
 * that of 4-6 step ones (0-0.6 verify steps, one verify step costing ~1.6 plain steps).
 */
export const FIXED_STEPS = 1;
/** Weight of the newest request of the serving decoder in the load level (about the last 4 count). */
const LEVEL_ALPHA = 1 / 4;
/** Weight of a re-measurement (a request after one of the other decoder) in its decoder's relative cost (the last 4 count: a single request varies 2x under load). */
const REMEASURE_ALPHA = 1 / 4;
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
  /** At the current load level: plain ms per token after the first, speculative ms per token (per step ÷ τ). */
  plainMsPerToken?: number;
  specMsPerToken?: number;
  draftMsPerStep?: number;
  verifyMsPerStep?: number;
  tau?: number;
  /** Speculative ms per verify step ÷ plain ms per token after the first, both with their start-up share taken out. */
  stepRatio?: number;
  /** The load level: measured ms over what the relative costs predict (1 at the first measurement). */
  level?: number;
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

/** Steps a request decoded: verify steps (speculative), tokens after the first (plain: the first comes with the prompt). */
const stepsOf = (m: Measured) => (m.mode === 'speculative' ? m.steps : m.tokens - 1);

/**
 * Running sums (exponentially weighted) of one decoder's requests: ratios of these are per token / per step,
 * so a request weighs by its length (a 2-token request cut short by the next keystroke moves little).
 * `relMs` is decode ms ÷ the load level of its time, `effSteps` the steps plus the fixed start-up share: these
 * two take a re-measurement with weight `w`, the statistics (τ, draft and verify ms) every request with ALPHA.
 */
interface Sums { relMs: number; effSteps: number; decoded: number; steps: number; draftMs: number; verifyMs: number }
const addTo = (s: Sums | undefined, m: Measured, level: number, w = ALPHA): Sums => {
  const x: Sums = { relMs: m.decodeMs / level, effSteps: stepsOf(m) + FIXED_STEPS, decoded: m.tokens - 1, steps: m.steps, draftMs: m.draftMs ?? 0, verifyMs: m.verifyMs ?? 0 };
  if (!s) return x;
  const out = { ...s };
  for (const key of Object.keys(x) as (keyof Sums)[]) out[key] = s[key] + (key === 'relMs' || key === 'effSteps' ? w : ALPHA) * (x[key] - s[key]);
  return out;
};
/** Relative ms per effective step. */
const perStep = (s: Sums) => s.relMs / s.effSteps;

export class DecoderChoice {
  private c: Costs = { plainRequests: 0, specRequests: 0 };
  private sums: { plain?: Sums; speculative?: Sums } = {};
  /** The load level as running sums: measured ms and the ms the relative costs predicted (level = ms / predicted). */
  private levelSums?: { ms: number; predicted: number };
  private decisions = 0;
  /** The decoder of the last request that decoded something. */
  private lastMode?: Mode;
  /** τ as calibration measured it, until a speculative request measures it. */
  private seededTau = false;
  /** When the last request ended (ms): a request after a pause starts a burst of typing (or is not typing). */
  private lastEnd?: number;
  /** The decision at which a re-measurement fell due, while it waits for a request that follows a pause. */
  private exploreDueAt?: number;

  get costs(): Costs { return { ...this.c }; }

  /** A new model, drafter or vocabulary: the old measurements no longer apply. */
  reset(): void {
    this.c = { plainRequests: 0, specRequests: 0 };
    this.sums = {};
    this.levelSums = this.lastMode = this.exploreDueAt = this.lastEnd = undefined;
    this.decisions = 0;
    this.seededTau = false;
  }

  private get level(): number { return this.levelSums ? this.levelSums.ms / this.levelSums.predicted : 1; }

  /** Calibration's tokens/s of both decoders on its fixed prompt: a starting point, replaced by real requests. */
  seed(plainTokensPerSecond: number, specTokensPerSecond: number, tau: number): void {
    // As one request of 48 tokens each (calibration's length): real requests then blend in.
    const as = (mode: Mode, tps: number, t: number): Measured => ({ mode, tokens: 48, decodeMs: 48 * 1000 / tps, steps: Math.max(1, Math.round(47 / t)) });
    if (plainTokensPerSecond > 0) {
      this.sums.plain = addTo(this.sums.plain, as('plain', plainTokensPerSecond, 1), this.level);
      this.c.plainRequests++;
    }
    if (specTokensPerSecond > 0) {
      this.sums.speculative = addTo(this.sums.speculative, as('speculative', specTokensPerSecond, tau), this.level);
      this.c.tau ??= tau;
      this.seededTau = true;
      this.c.specRequests++;
    }
    this.update();
  }

  record(m: Measured, now = performance.now()): void {
    const c = this.c;
    this.lastEnd = now;
    // A prompt that reuses little of the cache starts a new context (another file, another place in it).
    if (m.nPrompt !== undefined && m.nReused !== undefined && m.nReused < SAME_CONTEXT * m.nPrompt) c.contextTau = c.contextTokens = undefined;
    if (m.tokens < 2 || !(m.decodeMs > 0)) return;  // nothing decoded to learn from (the first token comes with the prompt)
    if (m.mode === 'speculative' && !(m.steps > 0)) return;
    const own = this.sums[m.mode];
    // The decoder that served the request before this one too: its request measures the load level (what
    // took longer than its relative cost predicts, the load made longer). A re-measurement (after the other
    // decoder) counts against that level in full.
    const serving = this.lastMode === m.mode;
    if (own && serving) {
      const predicted = perStep(own) * (stepsOf(m) + FIXED_STEPS);
      const l = this.levelSums;
      this.levelSums = l ? { ms: l.ms + LEVEL_ALPHA * (m.decodeMs - l.ms), predicted: l.predicted + LEVEL_ALPHA * (predicted - l.predicted) }
        : { ms: m.decodeMs, predicted };
    }
    // Its relative cost learns from re-measurements only (and from the decoder's first requests, as both are
    // measured in turn): while one decoder serves, a slower request may be load or a costlier text, and both
    // cannot be told apart; taken as load, the other decoder's prediction moves with it (a load change
    // split between the two moved only part of it across, and a doubled load looked like 1.6x).
    this.sums[m.mode] = addTo(own, m, this.level, !own ? 1 : serving ? 0 : REMEASURE_ALPHA);
    this.lastMode = m.mode;
    // While typing most requests are superseded after a few tokens: only finished ones tell the length.
    if (!m.interrupted) {
      c.tokensPerRequest = ema(c.tokensPerRequest, m.tokens);
      c.contextTokens = ema(c.contextTokens, m.tokens, CONTEXT_ALPHA);
    }
    // A new context's τ starts from the session's: one request that accepted nothing in its only step is not τ 1
    // for the rest of the context (plain requests do not measure τ, so that would stick until a re-measurement).
    if (m.mode === 'speculative') {
      this.seededTau = false;
      c.contextTau = ema(c.contextTau ?? c.tau, (m.tokens - 1) / m.steps, CONTEXT_ALPHA);
      if (m.draftPromptMs !== undefined) c.draftPromptMs = ema(c.draftPromptMs, m.draftPromptMs);
      c.specRequests++;
    } else {
      c.plainRequests++;
    }
    this.update();
  }

  /** The reported costs from the sums, at the current load level. */
  private update(): void {
    const c = this.c, p = this.sums.plain, sp = this.sums.speculative;
    c.level = this.level;
    if (p) c.plainMsPerToken = perStep(p) * c.level;
    if (sp) {
      if (!this.seededTau) c.tau = sp.decoded / sp.steps;
      c.specMsPerToken = perStep(sp) * c.level / Math.max(1, c.tau!);
      c.draftMsPerStep = sp.draftMs / sp.steps;
      c.verifyMsPerStep = sp.verifyMs / sp.steps;
    }
    if (p && sp) c.stepRatio = perStep(sp) / perStep(p);
  }

  /** The decoder for a request of at most `maxTokens` tokens. */
  choose(maxTokens: number, now = performance.now()): Decision {
    const c = this.c;
    const n = this.decisions++;
    if (!this.sums.plain || !this.sums.speculative) {
      const mode: Mode = c.specRequests <= c.plainRequests ? 'speculative' : 'plain';
      return { mode, why: 'measuring both decoders on real requests' };
    }
    const p = this.predict(maxTokens);
    const cheaper: Mode = p.specMs < p.plainMs ? 'speculative' : 'plain';
    if (p.specMs * EXPLORE_CLEAR < p.plainMs) this.exploreDueAt = undefined;  // nothing to re-measure: plain cannot win
    else if (n % EXPLORE_EVERY === EXPLORE_EVERY - 1) this.exploreDueAt ??= n;
    if (this.exploreDueAt !== undefined && (this.lastEnd === undefined || now - this.lastEnd >= PAUSE_MS || n - this.exploreDueAt >= EXPLORE_WAIT)) {
      this.exploreDueAt = undefined;
      return { ...p, mode: cheaper === 'plain' ? 'speculative' : 'plain', why: `re-measuring (every ${EXPLORE_EVERY}th request)` };
    }
    return { ...p, mode: cheaper, why: `predicted ${p.specMs.toFixed(1)} ms speculative (τ ${p.tau.toFixed(2)}) vs ${p.plainMs.toFixed(1)} ms plain for ~${p.tokens.toFixed(0)} tokens` };
  }

  /**
   * Predicted decoding ms of each decoder for a request of at most `maxTokens` (needs both measured): the
   * current context's τ and length where measured, else the session's; each decoder's relative cost per step
   * (with the start-up share) at the current load level, plus speculation's reading of the prompt by the drafter.
   */
  predict(maxTokens: number): { plainMs: number; specMs: number; tokens: number; tau: number } {
    const c = this.c;
    const tokens = Math.max(1, Math.min(maxTokens, c.contextTokens ?? c.tokensPerRequest ?? maxTokens));
    const level = this.level;
    const tau = Math.max(1, c.contextTau ?? c.tau ?? 1);
    const plainMs = level * perStep(this.sums.plain!) * (tokens - 1 + FIXED_STEPS);
    const specMs = (c.draftPromptMs ?? 0) + level * perStep(this.sums.speculative!) * ((tokens - 1) / tau + FIXED_STEPS);
    return { plainMs, specMs, tokens, tau };
  }
}
