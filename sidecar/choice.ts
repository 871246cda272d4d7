// Which decoder serves a request: speculative or plain, chosen per request from what each costs on this
// machine, measured on real requests (running averages), not from one calibration at start-up. Greedy output
// is identical either way, so the choice is only about speed: predict
//   plain ≈ L × (plain ms per token)      speculative ≈ drafter's prompt ms + L × (speculative ms per token)
// for the L tokens the request will likely produce (the recent average, at most its maxTokens), and pick the
// cheaper. Speculative ms per token is (draft + verify ms per step) ÷ τ, kept as its parts for the
// statistics. The averages are of sums (ms, tokens, steps), so each request weighs by its tokens. A request that cannot profit (a drafter that is slow here, τ near 1, short completions that do
// not pay back the drafter's prompt reading) decodes plainly. Every `EXPLORE_EVERY`-th decision runs the
// other decoder so its estimate follows the machine's load and the workspace; until both have a measurement
// (a calibration seeds them) they alternate.

/** Weight of the newest request in the running averages (about the last 8 requests count). */
const ALPHA = 1 / 8;
/** One decision in this many runs the decoder not predicted cheaper, to keep its measurement fresh. */
export const EXPLORE_EVERY = 16;

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
}

export interface Costs {
  plainMsPerToken?: number;
  specMsPerToken?: number;
  draftMsPerStep?: number;
  verifyMsPerStep?: number;
  tau?: number;
  draftPromptMs?: number;
  tokensPerRequest?: number;
  /** Requests measured per decoder (a calibration counts as one each). */
  plainRequests: number;
  specRequests: number;
}

export interface Decision { mode: Mode; why: string; plainMs?: number; specMs?: number }

const ema = (old: number | undefined, x: number, w = ALPHA) => (old === undefined ? x : old + w * (x - old));

/**
 * Running sums (exponentially weighted) of what one decoder spent: ratios of these are per token / per step,
 * so a request weighs by its tokens (a 2-token request cut short by the next keystroke moves little).
 */
interface Sums { ms: number; tokens: number; steps: number; draftMs: number; verifyMs: number }
const addTo = (s: Sums | undefined, m: Measured): Sums => {
  const x = { ms: m.decodeMs, tokens: m.tokens, steps: m.steps, draftMs: m.draftMs ?? 0, verifyMs: m.verifyMs ?? 0 };
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

  get costs(): Costs { return { ...this.c }; }

  /** A new model, drafter or vocabulary: the old measurements no longer apply. */
  reset(): void {
    this.c = { plainRequests: 0, specRequests: 0 };
    this.plainSums = this.specSums = undefined;
    this.decisions = 0;
  }

  /** Calibration's tokens/s of both decoders on its fixed prompt: a starting point, replaced by real requests. */
  seed(plainTokensPerSecond: number, specTokensPerSecond: number, tau: number): void {
    // As one request of 48 tokens each (calibration's length): real requests then blend in.
    const as = (tps: number, t: number): Measured => ({ mode: 'plain', tokens: 48, decodeMs: 48 * 1000 / tps, steps: Math.max(1, Math.round(48 / t)) });
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

  record(m: Measured): void {
    if (m.tokens < 2 || !(m.decodeMs > 0)) return;  // nothing decoded to learn from (the first token comes with the prompt)
    const c = this.c;
    // While typing most requests are superseded after a few tokens: only finished ones tell the length.
    if (!m.interrupted) c.tokensPerRequest = ema(c.tokensPerRequest, m.tokens);
    if (m.mode === 'plain') {
      const p = this.plainSums = addTo(this.plainSums, m);
      c.plainMsPerToken = p.ms / p.tokens;
      c.plainRequests++;
      return;
    }
    const sp = this.specSums = addTo(this.specSums, m);
    c.specMsPerToken = sp.ms / sp.tokens;
    if (sp.steps > 0) {
      c.tau = sp.tokens / sp.steps;
      c.draftMsPerStep = sp.draftMs / sp.steps;
      c.verifyMsPerStep = sp.verifyMs / sp.steps;
    }
    if (m.draftPromptMs !== undefined) c.draftPromptMs = ema(c.draftPromptMs, m.draftPromptMs);
    c.specRequests++;
  }

  /** The decoder for a request of at most `maxTokens` tokens. */
  choose(maxTokens: number): Decision {
    const c = this.c;
    const n = this.decisions++;
    if (c.plainMsPerToken === undefined || c.specMsPerToken === undefined) {
      const mode: Mode = c.specRequests <= c.plainRequests ? 'speculative' : 'plain';
      return { mode, why: 'measuring both decoders on real requests' };
    }
    const p = this.predict(maxTokens);
    const cheaper: Mode = p.specMs < p.plainMs ? 'speculative' : 'plain';
    if (n % EXPLORE_EVERY === EXPLORE_EVERY - 1) {
      return { ...p, mode: cheaper === 'plain' ? 'speculative' : 'plain', why: `re-measuring (every ${EXPLORE_EVERY}th request)` };
    }
    return { ...p, mode: cheaper, why: `predicted ${p.specMs.toFixed(1)} ms speculative vs ${p.plainMs.toFixed(1)} ms plain for ~${p.tokens.toFixed(0)} tokens` };
  }

  /** Predicted decoding ms of each decoder for a request of at most `maxTokens` (needs both measured). */
  predict(maxTokens: number): { plainMs: number; specMs: number; tokens: number } {
    const c = this.c;
    const tokens = Math.max(1, Math.min(maxTokens, c.tokensPerRequest ?? maxTokens));
    return { plainMs: tokens * c.plainMsPerToken!, specMs: (c.draftPromptMs ?? 0) + tokens * c.specMsPerToken!, tokens };
  }
}
