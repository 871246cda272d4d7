// The completions of this session as the statistics view charts them: one sample per served request (not
// warmups), kept in a ring, and the view's data (series over time, the τ histogram, acceptance by draft
// position, plain vs speculative, the vocabulary's coverage curve) as plain JSON. Pure, so it is unit-tested;
// the view only draws it.
import type { CompletionStats, StatsResult } from '../../sidecar/protocol';
import { drafterName } from './status-format';

export interface CompletionSample {
  /** Unix ms when the result arrived. */
  at: number;
  tokens: number;
  tokensPerSecond: number;
  tau: number;
  totalMs: number;
  firstTokenMs: number;
  mode: 'plain' | 'speculative';
  /** Speculative: per draft position (index 0 = depth 1), tokens drafted and accepted there (the sidecar's counts). */
  draftedAt?: number[];
  acceptedAt?: number[];
}

export class CompletionHistory {
  private samples: CompletionSample[] = [];
  constructor(private readonly capacity = 500) {}

  /** One completed request; requests that decoded nothing say nothing about speed and are left out. */
  // (The per-position fields are spelled out beside CompletionStats so this compiles whether or not the
  // protocol declares them yet.)
  record(s: CompletionStats & { draftedAt?: number[]; acceptedAt?: number[] }, at = Date.now()): void {
    if (!(s.tokens > 0)) return;
    const positions = validPositions(s.draftedAt, s.acceptedAt);
    this.samples.push({ at, tokens: s.tokens, tokensPerSecond: s.tokensPerSecond, tau: s.tau, totalMs: s.totalMs, firstTokenMs: s.firstTokenMs, mode: s.mode, ...positions });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  get all(): readonly CompletionSample[] { return this.samples; }
}

/** The sidecar's per-position counts when they make sense (same length, whole numbers, accepted ≤ drafted); else none. */
function validPositions(drafted?: readonly number[], accepted?: readonly number[]): { draftedAt?: number[]; acceptedAt?: number[] } {
  if (!Array.isArray(drafted) || !Array.isArray(accepted) || drafted.length !== accepted.length || drafted.length === 0) return {};
  const ok = drafted.every((d, i) => Number.isInteger(d) && Number.isInteger(accepted[i]) && accepted[i] >= 0 && accepted[i] <= d);
  return ok ? { draftedAt: [...drafted], acceptedAt: [...accepted] } : {};
}

export interface Histogram { edges: number[]; counts: number[] }

/**
 * Acceptance by draft position over these samples: tokens drafted and accepted at each depth (1 = the first
 * token drafted after the last emitted one) added up, and accepted ÷ drafted (null where nothing was drafted).
 */
export interface Acceptance { position: number[]; drafted: number[]; accepted: number[]; rate: (number | null)[] }

export function acceptanceByPosition(samples: readonly CompletionSample[]): Acceptance {
  const drafted: number[] = [], accepted: number[] = [];
  for (const s of samples) {
    if (!s.draftedAt || !s.acceptedAt) continue;
    s.draftedAt.forEach((n, i) => { drafted[i] = (drafted[i] ?? 0) + n; accepted[i] = (accepted[i] ?? 0) + s.acceptedAt![i]; });
  }
  return { position: drafted.map((_, i) => i + 1), drafted, accepted, rate: drafted.map((d, i) => (d > 0 ? accepted[i] / d : null)) };
}

/** Counts of `values` in bins of `width` from `from` (the last bin takes everything above). */
export function histogram(values: number[], from: number, width: number, bins: number): Histogram {
  const edges = Array.from({ length: bins }, (_, i) => from + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[Math.max(0, Math.min(bins - 1, Math.floor((v - from) / width)))]++;
  }
  return { edges, counts };
}

/** Everything the statistics view draws, as JSON (seconds since the first sample on the time axes). */
export interface ChartData {
  /** x: seconds since the first sample; y: per completion; null where the other mode's series has a point. */
  time: { t: number[]; plainTps: (number | null)[]; specTps: (number | null)[]; totalMs: number[]; firstTokenMs: number[] };
  tau: Histogram;
  acceptance: Acceptance;
  /** Tokens/s: calibrated plain vs the configured decoder, and the recent mean of each mode's completions. */
  compare: { labels: string[]; tokensPerSecond: number[] };
  /** Share of the workspace's tokens covered by the top k ids of the draft vocabulary. */
  coverage: { k: number[]; share: number[] };
  summary: string[];
}

export function chartData(samples: readonly CompletionSample[], stats?: StatsResult): ChartData {
  const t0 = samples[0]?.at ?? 0;
  const time = {
    t: samples.map((s) => (s.at - t0) / 1000),
    plainTps: samples.map((s) => (s.mode === 'plain' ? s.tokensPerSecond : null)),
    specTps: samples.map((s) => (s.mode === 'speculative' ? s.tokensPerSecond : null)),
    totalMs: samples.map((s) => s.totalMs),
    firstTokenMs: samples.map((s) => s.firstTokenMs),
  };
  const spec = samples.filter((s) => s.mode === 'speculative');
  const tau = histogram(spec.map((s) => s.tau), 1, 0.25, 16);  // τ 1 … 4.75+
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  // Speed over a session: tokens ÷ decode time, not the mean of per-request rates (short requests are noisy).
  const rate = (xs: CompletionSample[]) => { const tok = xs.reduce((a, s) => a + s.tokens, 0); const sec = xs.reduce((a, s) => a + (s.tokensPerSecond > 0 ? s.tokens / s.tokensPerSecond : 0), 0); return sec > 0 ? tok / sec : 0; };
  const plain = samples.filter((s) => s.mode === 'plain');
  const compare = { labels: [] as string[], tokensPerSecond: [] as number[] };
  const bar = (label: string, tps: number) => { compare.labels.push(label); compare.tokensPerSecond.push(tps); };
  const c = stats?.calibration;
  // Two-line labels ('\n'): four bars share a narrow chart.
  const short = (mode: string) => (mode === 'speculative' ? 'spec.' : mode);
  if (c) { bar('plain\ncalib.', c.plainTokensPerSecond); bar(`${short(stats!.decoding.mode)}\ncalib.`, c.decoderTokensPerSecond); }
  if (plain.length) bar(`plain\nn=${plain.length}`, rate(plain));
  if (spec.length) bar(`spec.\nn=${spec.length}`, rate(spec));
  const cov = stats?.vocab?.coverage ?? [];
  const summary: string[] = [];
  if (stats) {
    summary.push(`${stats.decoding.active} decoding${stats.decoding.drafter && stats.decoding.active === 'speculative' ? ` (${drafterName(stats.decoding.drafter)})` : ''}${stats.speedup !== undefined && stats.decoding.active === 'speculative' ? ` · measured speed-up ${stats.speedup.toFixed(2)}×` : ''}`);
    summary.push(`recent ${stats.recent.count} suggestions: ${stats.recent.tokensPerSecond.toFixed(1)} tokens/s, latency p50 ${Math.round(stats.recent.latencyMs.p50)} ms / p95 ${Math.round(stats.recent.latencyMs.p95)} ms`);
  }
  const acceptance = acceptanceByPosition(samples);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const drafted = sum(acceptance.drafted), accepted = sum(acceptance.accepted);
  summary.push(`this session: ${samples.length} suggestions${spec.length ? `, mean τ ${mean(spec.map((s) => s.tau)).toFixed(2)}` : ''}` +
    (drafted > 0 ? `, ${accepted} of ${drafted} drafted tokens accepted (${((100 * accepted) / drafted).toFixed(0)}%)` : ''));
  return { time, tau, acceptance, compare, coverage: { k: cov.map((x) => x.k), share: cov.map((x) => x.share) }, summary };
}
