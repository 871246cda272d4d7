// `frspec bench typing` end to end on the demo model: 1 file, 5 keystrokes through the real sidecar process
// (its TypeScript entry through tsx, spawned by the extension's client), without llama.cpp. The report's
// numbers must agree with each other: every keystroke is served or superseded, the last one is served, the
// server's queue + prompt + decode fit in the client's wait, re-evaluated tokens fit in the prompt.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { frspec, lastJson } from '../helpers/cli';
import { repoRoot, requireShared } from '../helpers/shared';
import type { KeystrokeRequest, Summary, TypingResult } from '../../bench/typing';

describe('frspec bench typing', function () {
  this.timeout(180_000);

  it('replays 5 keystrokes through the sidecar and reports consistent fields', async function () {
    requireShared(this);
    const r = await frspec(['bench', 'typing', '--files', '1', '--keystrokes', '5', '--bursts', '1', '--threads', '1', '--no-llama-cpp',
      '--sidecar', path.join(repoRoot, 'sidecar', 'entry.ts'), '--json']);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out) as TypingResult & { ok: boolean };
    assert.equal(j.ok, true);
    assert.match(r.out, /\| frspec sidecar \| /);
    assert.equal(j.files.length, 1);
    assert.equal(j.runs.length, 1);
    const run = j.runs[0];
    assert.equal(run.bursts.length, 1);
    const reqs: KeystrokeRequest[] = run.bursts[0].requests;
    assert.deepEqual(reqs.map((q) => q.keystroke), [1, 2, 3, 4, 5]);
    const last = reqs[4];
    assert.equal(last.outcome, 'served');
    for (const q of reqs) {
      assert.notEqual(q.outcome, 'failed', q.error);
      assert.ok(q.latencyMs > 0 && q.promptTokens > 0 && q.promptDelta >= 1 && q.promptDelta <= q.promptTokens);
      if (q.outcome !== 'served') continue;
      assert.ok(q.reEvaluated! >= 1 && q.reEvaluated! <= q.promptTokens, `re-evaluated ${q.reEvaluated} of ${q.promptTokens}`);
      assert.ok(q.queueMs! >= 0 && q.promptMs! >= 0 && q.decodeMs! >= 0);
      assert.ok(q.queueMs! + q.promptMs! + q.decodeMs! <= q.latencyMs + 5, `server ${q.queueMs}+${q.promptMs}+${q.decodeMs} ms within the client's ${q.latencyMs} ms`);
      assert.ok(q.tokens! >= 0 && q.tokens! <= 12 && q.tokensShown! <= q.tokens! && (q.tokensShown! > 0) === (q.shownChars! > 0));
      assert.equal(q.mode, 'plain');
    }
    const o: Summary = run.overall;
    assert.deepEqual(run.perFile.map((f) => ({ ...f, file: undefined })), [{ ...o, file: undefined }]);
    assert.equal(o.keystrokes, 5);
    assert.equal(o.served + o.superseded + o.failed, 5);
    assert.equal(Object.values(o.servedBy).reduce((a, b) => a + b, 0), o.served);
    assert.equal(o.lastKeyMs.p50, last.latencyMs);
    assert.ok(o.lastKeyMs.p95 >= o.lastKeyMs.p50);
    assert.equal(o.reEvaluatedLast, last.reEvaluated);
    assert.equal(j.options.keystrokes, 5);
    assert.equal(j.options.prefixChars, 1500);
    assert.equal(j.options.maxTokens, 12);
  });

  it('--compare-plain: the drafter\'s sidecar and a plain one type the same keystrokes in turn; same suggestions', async function () {
    requireShared(this);
    const r = await frspec(['bench', 'typing', '--files', '1', '--keystrokes', '4', '--bursts', '2', '--threads', '1', '--no-llama-cpp', '--draft', 'demo-draft',
      '--time-budget-ms', '0', '--prompt-budget-ms', '0', '--compare-plain', '--sidecar', path.join(repoRoot, 'sidecar', 'entry.ts'), '--json']);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out) as TypingResult & { ok: boolean };
    assert.deepEqual(j.runs.map((x) => x.engine), ['frspec sidecar, plain', 'frspec sidecar, draft model']);
    for (const run of j.runs) assert.deepEqual(run.bursts.map((b) => b.requests.length), [4, 4]);
    assert.ok(j.runs[0].bursts.every((b) => b.requests.every((q) => q.outcome !== 'served' || q.mode === 'plain')));
    const c = j.comparison!;
    // Greedy decoding, no time or prompt budget (a prompt budget cuts each sidecar's suffix from its own measured
    // prompt speed, so the two prompts could differ): the last keystroke's suggestion is the same text whichever
    // decoder served it.
    assert.equal(c.sameText.compared, 2);
    assert.equal(c.sameText.identical, 2, JSON.stringify(c.sameText.differing));
    assert.equal(c.lastKeyMs.base.p50, j.runs[0].overall.lastKeyMs.p50);
    assert.equal(c.lastKeyMs.test.p95, j.runs[1].overall.lastKeyMs.p95);
    assert.equal(c.verdict.p50NotSlower, c.lastKeyMs.test.p50 <= c.lastKeyMs.base.p50);
    assert.ok(c.decode.baseTokensPerSecond > 0 && c.decode.testTokensPerSecond > 0);
    assert.match(r.out, /suggestions identical on 2 of 2 last keystrokes/);
  });

  it('refuses --compare-plain without a drafter', async () => {
    const r = await frspec(['bench', 'typing', '--compare-plain']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--compare-plain needs --draft or --eagle/);
  });

  it('refuses --draft with --eagle', async () => {
    const r = await frspec(['bench', 'typing', '--draft', 'a.gguf', '--eagle', 'b.gguf']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--draft or --eagle/);
  });
});
