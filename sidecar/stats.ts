// Running statistics of the sidecar: request counters, the recent completions' speed, τ and latency, and
// the measured speed-up (recent tokens/s of the decoder over the calibrated plain tokens/s).
import type { DecodeResult } from './decoder';
import type { Calibration, CompletionStats, DecodingSummary, StatsResult, VocabSummary } from './protocol';

/** When a completion was received, started (after the queue), showed its first token and ended (performance.now()). */
export interface CompletionTimes { received: number; started: number; firstTokenAt?: number; done: number }

/** A completion's figures as the protocol reports them, for the editor's `complete` and the HTTP server alike. */
export function completionStats(r: DecodeResult, t: CompletionTimes): CompletionStats {
  return {
    promptTokens: r.nPrompt, reusedTokens: r.nReused, tokens: r.tokens.length,
    queueMs: t.started - t.received, promptMs: r.promptMs, decodeMs: r.decodeMs,
    firstTokenMs: (t.firstTokenAt ?? t.done) - t.received, totalMs: t.done - t.received,
    tokensPerSecond: r.decodeMs > 0 ? r.tokens.length / (r.decodeMs / 1000) : 0,
    steps: r.steps, tau: r.tau, mode: r.mode,
    ...(r.draftedAt && r.acceptedAt ? { draftedAt: r.draftedAt, acceptedAt: r.acceptedAt } : {}),
    ...(r.mode === 'speculative' ? { draftPromptMs: r.draftPromptMs, draftMs: r.draftMs, verifyMs: r.verifyMs } : {}),
  };
}

/** Per-position counts of several completions added up (positions a completion did not reach count 0). */
export function sumPositions(rows: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (const row of rows) row.forEach((n, i) => { out[i] = (out[i] ?? 0) + n; });
  return out;
}

const RECENT = 100;

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export class Stats {
  readonly started = Date.now();
  readonly requests = { received: 0, completed: 0, cancelled: 0, superseded: 0, failed: 0 };
  private recent: CompletionStats[] = [];
  calibration?: Calibration;

  completed(s: CompletionStats): void {
    this.requests.completed++;
    if (s.tokens === 0) return;
    this.recent.push(s);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  /** A new model: its speed is not comparable to the old one's. */
  resetModel(): void {
    this.recent = [];
    this.calibration = undefined;
  }

  snapshot(decoding: DecodingSummary, vocab: VocabSummary | undefined): StatsResult {
    const r = this.recent;
    const tokens = r.reduce((s, x) => s + x.tokens, 0);
    const decodeMs = r.reduce((s, x) => s + x.decodeMs, 0);
    // τ of the speculative completions (plain ones are 1 by definition), weighted by their steps.
    const spec = r.filter((x) => x.mode === 'speculative');
    const tauOf = spec.length ? spec : r;
    const steps = tauOf.reduce((s, x) => s + x.steps, 0);
    const emitted = tauOf.reduce((s, x) => s + x.tau * x.steps, 0);
    const prompt = r.reduce((s, x) => s + x.promptTokens, 0);
    const reused = r.reduce((s, x) => s + x.reusedTokens, 0);
    const tokensPerSecond = decodeMs > 0 ? tokens / (decodeMs / 1000) : 0;
    const positions = r.filter((x) => x.draftedAt && x.acceptedAt);
    const mem = process.memoryUsage();
    return {
      decoding,
      requests: { ...this.requests },
      recent: {
        count: r.length,
        tokensPerSecond,
        tau: steps > 0 ? emitted / steps : 0,
        latencyMs: { p50: percentile(r.map((x) => x.totalMs), 50), p95: percentile(r.map((x) => x.totalMs), 95) },
        firstTokenMs: { p50: percentile(r.map((x) => x.firstTokenMs), 50), p95: percentile(r.map((x) => x.firstTokenMs), 95) },
        reusedShare: prompt > 0 ? reused / prompt : 0,
        ...(positions.length ? {
          draftedAt: sumPositions(positions.map((x) => x.draftedAt!)), acceptedAt: sumPositions(positions.map((x) => x.acceptedAt!)),
        } : {}),
      },
      ...(this.calibration ? { calibration: this.calibration } : {}),
      ...(this.calibration && r.length > 0 ? { speedup: tokensPerSecond / this.calibration.plainTokensPerSecond } : {}),
      ...(vocab ? { vocab } : {}),
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
      uptimeMs: Date.now() - this.started,
    };
  }
}
