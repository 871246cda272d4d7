// The statistics view's data (extension/ui/completion-history.ts): the per-completion history, the τ
// histogram, plain vs speculative speed and the coverage curve, from real-shaped sidecar results.
import { strict as assert } from 'node:assert';
import { chartData, CompletionHistory, histogram } from '../../extension/ui/completion-history';
import type { CompletionStats, StatsResult } from '../../sidecar/protocol';

const completion = (mode: 'plain' | 'speculative', tokens: number, tokensPerSecond: number, tau: number, totalMs = 100): CompletionStats => ({
  promptTokens: 500, reusedTokens: 480, tokens, queueMs: 0, promptMs: 10, decodeMs: (1000 * tokens) / tokensPerSecond, firstTokenMs: 20, totalMs, tokensPerSecond, steps: Math.ceil(tokens / tau), tau, mode,
});

describe('extension statistics view: data', () => {
  it('records served completions in a ring, leaving out those that decoded nothing', () => {
    const h = new CompletionHistory(3);
    h.record(completion('plain', 0, 0, 1), 0);
    for (let i = 1; i <= 5; i++) h.record(completion('plain', 10, 100 * i, 1), i * 1000);
    assert.deepEqual(h.all.map((s) => s.tokensPerSecond), [300, 400, 500]);
  });
  it('histogram: fixed bins, the last takes everything above, NaN left out', () => {
    assert.deepEqual(histogram([1, 1.1, 1.3, 2.0, 9, Number.NaN, 0.5], 1, 0.25, 4), { edges: [1, 1.25, 1.5, 1.75], counts: [3, 1, 0, 2] });
  });
  it('time series split by mode, τ only from speculative suggestions, speed as tokens over decode time', () => {
    const h = new CompletionHistory();
    h.record(completion('plain', 10, 100, 1), 10_000);
    h.record(completion('speculative', 30, 300, 2.5), 11_000);
    h.record(completion('speculative', 10, 100, 1.2), 12_500);
    const d = chartData(h.all);
    assert.deepEqual(d.time.t, [0, 1, 2.5]);
    assert.deepEqual(d.time.plainTps, [100, null, null]);
    assert.deepEqual(d.time.specTps, [null, 300, 100]);
    assert.equal(d.tau.counts.reduce((a, b) => a + b, 0), 2);
    assert.equal(d.tau.counts[0], 1);  // τ 1.2 in [1, 1.25)
    assert.equal(d.tau.counts[6], 1);  // τ 2.5 in [2.5, 2.75)
    // Speculative: 40 tokens in 0.1 + 0.1 s of decoding = 200 tok/s; plain 100.
    assert.deepEqual(d.compare.labels, ['plain\nn=1', 'spec.\nn=2']);
    assert.deepEqual(d.compare.tokensPerSecond, [100, 200]);
  });
  it('speed is weighted by tokens: a short fast request does not dominate', () => {
    const h = new CompletionHistory();
    h.record(completion('plain', 2, 1000, 1));  // 2 ms
    h.record(completion('plain', 98, 100, 1));  // 980 ms
    assert.ok(Math.abs(chartData(h.all).compare.tokensPerSecond[0] - 100 / 0.982) < 1e-9);
  });
  it('calibration bars and the vocabulary coverage curve come from the engine statistics', () => {
    const stats = {
      decoding: { mode: 'speculative', active: 'speculative', drafter: 'EAGLE' }, speedup: 1.5,
      requests: { received: 1, completed: 1, cancelled: 0, superseded: 0, failed: 0 },
      recent: { count: 1, tokensPerSecond: 200, tau: 2, latencyMs: { p50: 90, p95: 150 }, firstTokenMs: { p50: 20, p95: 30 }, reusedShare: 0.9 },
      calibration: { plainTokensPerSecond: 120, decoderTokensPerSecond: 180, tau: 2, tokens: 48, runs: 4, at: 0 },
      vocab: { file: '/v.frv', files: 3, tokens: 1000, distinct: 900, topK: 8192, coverage: [{ k: 8192, share: 0.96 }, { k: 16384, share: 0.99 }] },
      memory: { rssBytes: 1, heapUsedBytes: 1 }, uptimeMs: 1,
    } as StatsResult;
    const d = chartData([], stats);
    assert.deepEqual(d.compare.labels, ['plain\ncalib.', 'spec.\ncalib.']);
    assert.deepEqual(d.compare.tokensPerSecond, [120, 180]);
    assert.deepEqual(d.coverage, { k: [8192, 16384], share: [0.96, 0.99] });
    assert.match(d.summary[0], /speculative decoding \(EAGLE\) · measured speed-up 1\.50×/);
    assert.deepEqual(d.time.t, []);
  });
});
