// The statistics view's data (extension/ui/completion-history.ts): the per-completion history, the τ
// histogram, acceptance by draft position, plain vs speculative speed and the coverage curve, from
// real-shaped sidecar results.
import { strict as assert } from 'node:assert';
import { acceptanceByPosition, chartData, CompletionHistory, histogram } from '../../extension/ui/completion-history';
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
  it('acceptance by draft position: the completions\' per-position counts added up, rate = accepted / drafted', () => {
    const h = new CompletionHistory();
    const spec = (drafted: number[], accepted: number[]) => ({ ...completion('speculative', 12, 300, 2), draftedAt: drafted, acceptedAt: accepted });
    h.record(spec([6, 5, 3], [5, 3, 1]), 1000);
    h.record(completion('plain', 10, 100, 1), 2000);  // plain: no positions
    h.record(spec([4, 2], [2, 0]), 3000);  // a shorter chain: positions it did not reach count nothing
    h.record(spec([5, 5], [6, 1]), 4000);  // accepted > drafted: not counts the sidecar can send; left out
    h.record(spec([3, 3, 3, 3], [3, 3]), 5000);  // lengths differ: left out
    h.record(spec([2, 2, 2, 2], [2, 2, 1, 1]), 6000);
    const a = chartData(h.all).acceptance;
    assert.deepEqual(a.position, [1, 2, 3, 4]);
    assert.deepEqual(a.drafted, [12, 9, 5, 2]);
    assert.deepEqual(a.accepted, [9, 5, 2, 1]);
    assert.deepEqual(a.rate, [9 / 12, 5 / 9, 2 / 5, 1 / 2]);
    assert.match(chartData(h.all).summary.at(-1)!, /17 of 28 drafted tokens accepted \(61%\)/);
    // A position where nothing was drafted has no rate (no bar), not 0 %.
    assert.deepEqual(acceptanceByPosition([{ ...h.all[0], draftedAt: [3, 0], acceptedAt: [1, 0] }]).rate, [1 / 3, null]);
  });
  it('acceptance follows the ring: completions pushed out of it no longer count; none without speculative ones', () => {
    const h = new CompletionHistory(2);
    h.record({ ...completion('speculative', 12, 300, 2), draftedAt: [10], acceptedAt: [10] }, 1);
    h.record({ ...completion('speculative', 12, 300, 2), draftedAt: [4], acceptedAt: [1] }, 2);
    h.record({ ...completion('speculative', 12, 300, 2), draftedAt: [4], acceptedAt: [3] }, 3);
    assert.deepEqual(chartData(h.all).acceptance, { position: [1], drafted: [8], accepted: [4], rate: [0.5] });
    const plain = new CompletionHistory();
    plain.record(completion('plain', 10, 100, 1));
    assert.deepEqual(chartData(plain.all).acceptance, { position: [], drafted: [], accepted: [], rate: [] });
    assert.doesNotMatch(chartData(plain.all).summary.at(-1)!, /drafted/);
  });
});
