// The engine's contracts on a small random-weight model: KV cache reuse, rollback, tree masks, chunking
// and thread counts give BIT-identical logits to a fresh evaluation; sampling is deterministic given the
// seed and follows the stated distribution; stop conditions, cancellation and bounded context behave.
import { strict as assert } from 'node:assert';
import { Engine } from '../../native/engine';
import { type FixtureSpec, fixtureFile, randomTokens, removeFixtures } from '../../fixtures/random-model';
import { demoModel } from '../helpers/shared';

const SPEC: FixtureSpec = { arch: 'qwen2', type: 'F16', tied: false, seed: 3 };
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const row = (r: { logits: Float32Array; vocab: number }, i: number) => r.logits.subarray(i * r.vocab, (i + 1) * r.vocab);
const sameBits = (a: Float32Array, b: Float32Array, what: string) => assert.ok(bytes(a).equals(bytes(b)), `${what}: logits differ`);

describe('engine: cache reuse, rollback, trees and determinism', function () {
  this.timeout(60000);
  let file: string;
  const open: Engine[] = [];
  const load = async (opts = {}) => {
    const e = await Engine.load(file, { threads: 2, contextSize: 128, ...opts });
    open.push(e);
    return e;
  };
  before(() => { file = fixtureFile('engine-f16', SPEC); });
  afterEach(async () => { while (open.length) await open.pop()!.close(); });
  after(removeFixtures);

  const P = randomTokens(20, 320, 11);
  const X = randomTokens(6, 320, 12);
  const Y = randomTokens(5, 320, 13);

  it('reuses the longest common prefix with bit-identical logits', async () => {
    const a = await load();
    const first = await a.generate([...P, ...X], { maxTokens: 4 });
    assert.equal(first.nReused, 0);
    const second = await a.generate([...P, ...Y], { maxTokens: 8 });
    assert.equal(second.nReused, P.length, 'the shared prefix is reused');
    const fresh = await (await load()).generate([...P, ...Y], { maxTokens: 8 });
    assert.deepEqual([...second.tokens], [...fresh.tokens]);

    const b = await load();
    await b.truncate(0);
    await b.eval([...P, ...X], { logits: 'none' });
    await b.truncate(P.length);  // roll back X
    const rolled = await b.eval(Y, { logits: 'all' });
    const whole = await (await load()).eval([...P, ...Y], { logits: 'all' });
    for (let i = 0; i < Y.length; i++) sameBits(row(rolled, i), row(whole, P.length + i), `row ${i} after rollback`);
  });

  it('evaluates in chunks and on any thread count with identical bits', async () => {
    const whole = await (await load({ threads: 1 })).eval(P, { logits: 'last' });
    const allRows = await (await load({ threads: 1 })).eval(P, { logits: 'all' });
    sameBits(row(allRows, P.length - 1), row(whole, 0), 'last row of all rows vs only the last row');
    const threaded = await (await load({ threads: 3 })).eval(P, { logits: 'last' });
    sameBits(row(threaded, 0), row(whole, 0), '3 threads vs 1');
    const small = await load({ maxBatch: 3 });
    let last;
    for (let i = 0; i < P.length; i += 3) last = await small.eval(P.slice(i, i + 3), { logits: 'last' });
    sameBits(row(last!, last!.rows - 1), row(whole, 0), 'chunks of 3 vs one batch');
    const gen = await (await load({ maxBatch: 3 })).generate(P, { maxTokens: 6 });
    const genWhole = await (await load()).generate(P, { maxTokens: 6 });
    assert.deepEqual([...gen.tokens], [...genWhole.tokens]);
  });

  it('evaluates a tree of drafted tokens exactly like each path alone, and keeps the accepted path', async () => {
    // Tree under the last prompt token: 0 and 1 are children of the root, 2 of 0, 3 of 2, 4 of 1.
    const tok = randomTokens(5, 320, 21);
    const parent = [-1, -1, 0, 2, 1];
    const depth = parent.map(function d(p): number { return p < 0 ? 0 : 1 + d(parent[p]); });
    const n = tok.length;
    const mask = new Uint8Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j >= 0; j = parent[j]) mask[i * n + j] = 1;
    const tree = await load();
    await tree.eval(P, { logits: 'none' });
    const got = await tree.eval(tok, { positions: depth.map((d) => P.length + d), mask, logits: 'all' });
    const pathOf = (i: number): number[] => (i < 0 ? [] : [...pathOf(parent[i]), tok[i]]);
    for (let i = 0; i < n; i++) {
      const alone = await (await load()).eval([...P, ...pathOf(i)], { logits: 'last' });
      sameBits(row(got, i), row(alone, 0), `tree node ${i}`);
    }
    // Accept the path 0 -> 2 -> 3 (slots P, P+2, P+3), then continue decoding from it.
    await tree.keep(P.length, [P.length, P.length + 2, P.length + 3]);
    assert.deepEqual([...(await tree.cachedTokens())], [...P, tok[0], tok[2], tok[3]]);
    const next = await tree.eval([7], { logits: 'last' });
    const fresh = await (await load()).eval([...P, tok[0], tok[2], tok[3], 7], { logits: 'last' });
    sameBits(row(next, 0), row(fresh, 0), 'after keeping the accepted path');
  });

  it('greedy generation follows the argmax of the logits, step by step', async () => {
    const gen = await (await load()).generate(P, { maxTokens: 5 });
    const e = await load();
    let r = await e.eval(P, { logits: 'last' });
    for (const t of gen.tokens) {
      const l = row(r, 0);
      assert.equal(t, l.indexOf(Math.max(...l)));
      r = await e.eval([t], { logits: 'last' });
    }
  });

  it('samples deterministically from the seed, and top-k 1 is greedy', async () => {
    const e = await load();
    const opts = { maxTokens: 24, temperature: 1, topK: 40, topP: 0.95 };
    const a = await e.generate(P, { ...opts, seed: 5 });
    const b = await e.generate(P, { ...opts, seed: 5 });
    const c = await e.generate(P, { ...opts, seed: 6 });
    assert.deepEqual([...a.tokens], [...b.tokens]);
    assert.notDeepEqual([...a.tokens], [...c.tokens]);
    const greedy = await e.generate(P, { maxTokens: 10 });
    const k1 = await e.generate(P, { maxTokens: 10, temperature: 0.8, topK: 1, seed: 9 });
    assert.deepEqual([...k1.tokens], [...greedy.tokens]);
  });

  for (const [T, topK, topP] of [[0.5, 12, 0.8], [0.25, 0, 0.7]]) {
    it(`draws from softmax(logits / T) restricted by top-k and top-p (T ${T}, top-k ${topK}, top-p ${topP})`, async () => {
      const e = await load();
      const l = row(await e.eval(P, { logits: 'last' }), 0);
      await e.truncate(0);
      const ids = [...l.keys()].sort((x, y) => l[y] - l[x] || x - y).slice(0, topK || l.length);
      const w = ids.map((i) => Math.exp((l[i] - l[ids[0]]) / T));
      const total = w.reduce((s, x) => s + x, 0);
      let acc = 0, keep = 0;
      while (keep < ids.length) { acc += w[keep++] / total; if (acc >= topP) break; }
      const nucleus = ids.slice(0, keep), mass = w.slice(0, keep).reduce((s, x) => s + x, 0);
      assert.ok(nucleus.length >= 2 && nucleus.length <= 20, `the test needs a nucleus of a few tokens, got ${nucleus.length}`);
      const draws = 1500, counts = new Map<number, number>();
      for (let s = 0; s < draws; s++) {
        const g = await e.generate(P, { maxTokens: 1, temperature: T, topK, topP, seed: 1000 + s });
        counts.set(g.tokens[0], (counts.get(g.tokens[0]) ?? 0) + 1);
      }
      for (const id of counts.keys()) assert.ok(nucleus.includes(id), `token ${id} is outside the nucleus`);
      let chi2 = 0;
      nucleus.forEach((id, k) => {
        const expected = (draws * w[k]) / mass;
        chi2 += ((counts.get(id) ?? 0) - expected) ** 2 / expected;
      });
      // 99.9% quantiles of chi-square with 1..19 degrees of freedom (nucleus size - 1).
      const q999 = [10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59, 31.26, 32.91, 34.53, 36.12, 37.70, 39.25, 40.79, 42.31, 43.82];
      assert.ok(chi2 < q999[nucleus.length - 2], `chi-square ${chi2.toFixed(1)} over ${nucleus.length} tokens`);
    });
  }

  it('stops on a stop token, at max tokens, and when the context is full', async () => {
    const e = await load({ contextSize: 32 });
    const greedy = await e.generate(P, { maxTokens: 6 });
    assert.equal(greedy.stop, 'max_tokens');
    const stopAt = greedy.tokens[2];
    const stopped = await e.generate(P, { maxTokens: 6, stopTokens: [stopAt] });
    const firstStop = [...greedy.tokens].indexOf(stopAt);
    assert.equal(stopped.stop, 'stop_token');
    assert.equal(stopped.stopToken, stopAt);
    assert.deepEqual([...stopped.tokens], [...greedy.tokens.slice(0, firstStop)]);
    const full = await e.generate(P, { maxTokens: 100 });
    assert.equal(full.stop, 'context_full');
    assert.equal(full.tokens.length, 32 - P.length + 1);  // the last token is chosen but needs no slot
    await assert.rejects(e.generate(randomTokens(40, 320, 1), { maxTokens: 1 }), /40 tokens and does not fit in the context of 32/);
    await assert.rejects(e.eval([5, 320]), /token id 320 at index 1 is outside the vocabulary \[0, 320\)/);
  });

  it('cancels between steps and keeps the JS thread free', async () => {
    const e = await load({ contextSize: 2048 });
    const ctl = new AbortController();
    const seen: number[] = [];
    const r = await e.generate(P, { maxTokens: 1500, signal: ctl.signal, onToken: (ids) => { seen.push(...ids); if (seen.length >= 3) ctl.abort(); } });
    assert.equal(r.stop, 'cancelled');
    assert.ok(r.tokens.length < 1500, `stopped after ${r.tokens.length} tokens`);
    await assert.rejects(e.generate(P, { signal: ctl.signal }), /cancelled before it started/);

    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const long = await e.generate(P, { maxTokens: 1000, stopTokens: [] });
    clearInterval(timer);
    assert.ok(long.tokens.length > 500);
    assert.ok(ticks >= 3, `the event loop ran ${ticks} times during generation`);
  });

  it('a cancelled prompt stops within one prefill chunk and keeps the chunks it evaluated', async () => {
    const e = await load({ contextSize: 4096 });
    const long = randomTokens(3000, 320, 21);
    const full = await e.generate(long, { maxTokens: 1, prefillChunk: 16 });  // how long the whole prompt takes here
    const prompt = randomTokens(3000, 320, 22);
    const ctl = new AbortController();
    const call = e.generate(prompt, { maxTokens: 1, prefillChunk: 16, signal: ctl.signal });
    setTimeout(() => ctl.abort(), Math.max(5, full.promptMs / 4));
    const r = await call;
    assert.equal(r.stop, 'cancelled');
    const kept = await e.cachedTokens();
    // Whole 16-token chunks (the first reuses nothing of `long`'s cache: different tokens), well before the end.
    assert.ok(kept.length > 0 && kept.length < prompt.length - 16 && kept.length % 16 === 0, `kept ${kept.length} tokens`);
    assert.deepEqual([...kept], prompt.slice(0, kept.length));
    // The next request reuses them.
    const again = await e.generate(prompt, { maxTokens: 1, prefillChunk: 16 });
    assert.equal(again.nReused, kept.length);
    await assert.rejects(e.generate(prompt, { prefillChunk: -2 }), /prefillChunk must be an integer from -1/);
  });

  it('a cancelled prompt stops between two layers of a chunk and caches nothing of that chunk', async function () {
    // A chunk of the demo target (8 layers) is long enough to be cancelled while it runs; the tiny fixture is not.
    const demo = demoModel('demo-target');
    if (!demo) return this.skip();
    const e = await Engine.load(demo, { threads: 2, contextSize: 1024 });
    open.push(e);
    const long = randomTokens(240, 150000, 31);
    const full = await e.generate(long, { maxTokens: 1, prefillChunk: 256 });  // one chunk; how long it takes here
    const prompt = randomTokens(240, 150000, 32);
    const ctl = new AbortController();
    const call = e.generate(prompt, { maxTokens: 1, prefillChunk: 256, signal: ctl.signal });
    setTimeout(() => ctl.abort(), Math.max(2, full.promptMs / 3));
    const r = await call;
    assert.equal(r.stop, 'cancelled');
    // Before layer-level cancellation the whole chunk finished first and stayed cached (239 tokens).
    assert.equal((await e.cachedTokens()).length, 0);
    const again = await e.generate(prompt, { maxTokens: 4 });
    const f = await Engine.load(demo, { threads: 2, contextSize: 1024 });
    open.push(f);
    const fresh = await f.generate(prompt, { maxTokens: 4 });
    assert.deepEqual([...again.tokens], [...fresh.tokens]);
  });

  it('queues concurrent calls on one engine', async () => {
    const e = await load();
    const [a, b] = await Promise.all([e.generate(P, { maxTokens: 5 }), e.generate(P, { maxTokens: 5 })]);
    assert.deepEqual([...a.tokens], [...b.tokens]);
    assert.equal(b.nReused, P.length - 1);
  });
});
