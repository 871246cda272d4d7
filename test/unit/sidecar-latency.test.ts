// The latency path through the real sidecar with the demo models: a newer request cancels a running prompt
// within one prefill chunk (a keystroke never waits for a stale prompt), the time budget counts decoding and
// not prompt processing, a prompt budget shrinks the FIM suffix to what fits (and the completion is the one
// of that shorter prompt), and with a drafter each request is served by the decoder predicted faster from
// measured costs, saying why, with plain greedy decoding's output.
import { strict as assert } from 'node:assert';
import type { SidecarClient } from '../../extension/client/sidecar-client';
import { rpc } from '../../sidecar/jsonrpc';
import { ErrorCode } from '../../sidecar/protocol';
import { capSuffix } from '../../sidecar/suffix-cap';
import { Engine } from '../../native/engine';
import { openTokenizer } from '../../native/tokenizer';
import { demoModel, requireShared } from '../helpers/shared';
import { fim, startClient } from './sidecar-helpers';

/** About `lines` x 15 tokens of code no earlier request has sent (`tag` makes it new to the KV cache). */
const code = (tag: string, lines: number) => Array.from({ length: lines }, (_, i) => `    value_${tag}_${i} = compute(${i}, "${tag}")\n`).join('');

describe('sidecar: the latency path (real process, demo model)', function () {
  this.timeout(120000);
  let model: string;
  let client: SidecarClient;

  before(async function () {
    requireShared(this);
    model = demoModel('demo-target')!;
    client = startClient();
    await client.initialize({ model, threads: 2, contextSize: 2048, calibrate: false });
  });
  after(async () => { await client?.dispose(); });

  it('a newer request cancels a running prompt within one chunk', async () => {
    await client.complete({ parts: ['def warm():\n'], maxTokens: 1 });
    // ~1100 new prompt tokens: tens to hundreds of ms of prompt processing on this machine.
    const stale = client.complete({ parts: [`def stale():\n${code('a', 75)}`], maxTokens: 8 });
    stale.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 15));
    const fresh = await client.complete({ parts: ['def fresh():\n'], maxTokens: 2 });
    await assert.rejects(stale, (e: unknown) => e instanceof rpc.ResponseError && e.code === ErrorCode.RequestCancelled);
    // The stale prompt stopped within one 64-token chunk (~5-15 ms here), not after its whole prompt.
    assert.ok(fresh.stats.queueMs < 100, `the newer request waited ${fresh.stats.queueMs.toFixed(1)} ms`);
    console.log(`      the newer request waited ${fresh.stats.queueMs.toFixed(1)} ms for the stale prompt to stop`);
  });

  it('the time budget counts decoding, not prompt processing', async () => {
    const r = await client.complete({ parts: [`def budget():\n${code('b', 80)}`], maxTokens: 250, timeBudgetMs: 25 });
    assert.equal(r.stop, 'time_budget');
    // Decoding got its 25 ms after the prompt (on the old clock, a prompt over 25 ms left none).
    assert.ok(r.stats.decodeMs >= 20, `decoding ran ${r.stats.decodeMs.toFixed(1)} ms after a ${r.stats.promptMs.toFixed(1)} ms prompt`);
    assert.ok(r.stats.tokens > 1 && r.stats.tokens < 250);
    console.log(`      prompt ${r.stats.promptMs.toFixed(1)} ms, then ${r.stats.tokens} tokens in ${r.stats.decodeMs.toFixed(1)} ms of decoding`);
  });

  it('a prompt budget cuts the FIM suffix at a line end to what fits, and completes that prompt', async () => {
    const prefix = 'def area(r):\n    return 3.14159 * r * r\n\n\ndef perimeter(r):\n    ';
    const suffix = `\n\n${code('s', 30)}`;
    await client.complete({ parts: fim(prefix, suffix), maxTokens: 2 });  // measures the prompt speed
    // 1 µs of prompt processing: the suffix falls to its floor (32 tokens, whole lines). (1 ms did not on a fast
    // CPU: the demo model's prompts run at ~50k tokens/s there, so 1 ms fits 50 - 16 reserved = 34 tokens.)
    const r = await client.complete({ parts: fim(prefix + 'r', suffix), maxTokens: 12, promptBudgetMs: 0.001 });
    assert.ok(r.stats.suffixCutTokens! > 100, `cut ${r.stats.suffixCutTokens} tokens`);
    const tok = openTokenizer(model);
    const cut = capSuffix(tok, fim(prefix + 'r', suffix), 32).parts;
    assert.ok((cut[3] as string).endsWith('\n') && (cut[3] as string).length < suffix.length);
    const want = await client.complete({ parts: cut, maxTokens: 12 });
    assert.equal(r.text, want.text);
    assert.equal(r.stats.promptTokens, want.stats.promptTokens);
    // No budget: the suffix stays whole.
    const whole = await client.complete({ parts: fim(prefix + 'r', suffix), maxTokens: 2 });
    assert.equal(whole.stats.suffixCutTokens, undefined);
    await assert.rejects(client.request('complete', { parts: ['x'], promptBudgetMs: -1 }), /promptBudgetMs/);
  });
});

describe('sidecar: speculative or plain per request (draft model + FR-Spec)', function () {
  this.timeout(180000);

  it('serves each request with the decoder predicted faster, says why, and gives plain greedy output', async function () {
    requireShared(this);
    const model = demoModel('demo-target')!;
    const client = startClient();
    const engine = await Engine.load(model, { threads: 1, contextSize: 1024 });
    try {
      await client.initialize({ model, draft: demoModel('demo-draft')!, threads: 2, contextSize: 1024, calibrate: true });
      const tok = openTokenizer(model);
      const s = tok.specials;
      const served = new Set<string>();
      const base = 'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        ';
      for (let i = 0; i < 18; i++) {
        const prefix = base + 'self.items'.slice(0, i % 11);  // typing
        const r = await client.complete({ parts: fim(prefix, '\n'), maxTokens: 16 });
        served.add(r.stats.mode);
        assert.ok(r.stats.why, 'every completion says why its decoder served it');
        const want = await engine.generate([s.fimPre, ...tok.encode(prefix), s.fimSuf, ...tok.encode('\n'), s.fimMid], { maxTokens: 16, stopTokens: s.eog });
        assert.equal(r.text, tok.decode(want.tokens), `request ${i} (${r.stats.mode}) differs from plain greedy decoding`);
      }
      // Both decoders were measured on real requests (first, or as the periodic re-measurement).
      assert.deepEqual([...served].sort(), ['plain', 'speculative']);
      const stats = await client.stats();
      assert.equal(stats.decoding.mode, 'speculative');
      assert.match(stats.decoding.note!, /chosen per request from measured costs: speculative \d+ tokens\/s .* plain \d+ tokens\/s/);
    } finally {
      await engine.close();
      await client.dispose();
    }
  });
});
