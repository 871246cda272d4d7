// Several suggestions through the real sidecar with the demo model: `alternatives` returns the target's
// next-best first tokens (ranked by logit), each continued greedily; the first suggestion stays the greedy one.
import { strict as assert } from 'node:assert';
import type { SidecarClient } from '../../extension/client/sidecar-client';
import { rpc } from '../../sidecar/jsonrpc';
import { ErrorCode } from '../../sidecar/protocol';
import { topLogits } from '../../sidecar/decoder';
import { Engine } from '../../native/engine';
import { openTokenizer } from '../../native/tokenizer';
import { demoModel, requireShared } from '../helpers/shared';
import { fim, startClient } from './sidecar-helpers';


describe('sidecar: alternatives (real process, demo model)', function () {
  this.timeout(120000);
  let model: string;
  let client: SidecarClient;

  before(async function () {
    requireShared(this);
    model = demoModel('demo-target')!;
    client = startClient();
    await client.initialize({ model, threads: 2, contextSize: 1024, calibrate: false });
  });
  after(async () => { await client?.dispose(); });

  it('ranks the next-best first tokens, each continued greedily; the first suggestion is the greedy one', async () => {
    const engine = await Engine.load(model, { threads: 1, contextSize: 1024 });
    try {
      const tok = openTokenizer(model);
      const s = tok.specials;
      const prefix = 'def area(r):\n    return 3.14159 * r * r\n\n\ndef perimeter(r):\n    ';
      const prompt = [s.fimPre, ...tok.encode(prefix), s.fimSuf, ...tok.encode('\n'), s.fimMid];
      const plain = await client.complete({ parts: fim(prefix, '\n'), maxTokens: 12 });
      const r = await client.complete({ parts: fim(prefix, '\n'), maxTokens: 12, alternatives: 3 });
      assert.equal(r.text, plain.text, 'the first suggestion is the normal greedy one');
      const greedy = await engine.generate(prompt, { maxTokens: 12, stopTokens: s.eog });
      assert.equal(r.text, tok.decode(greedy.tokens));
      const alts = r.alternatives!;
      assert.ok(alts.length >= 2, `got ${alts.length} alternatives`);
      assert.ok(alts.length <= 3);
      // Distinct from the greedy text and from each other; ranked by the first token's logit.
      assert.equal(new Set([r.text, ...alts.map((a) => a.text)]).size, alts.length + 1);
      for (let i = 1; i < alts.length; i++) assert.ok(alts[i - 1].logit >= alts[i].logit, 'ranked best first');
      // Each is the engine's own next-best first token, then greedy decoding of prompt + [that token].
      await engine.truncate(0);  // eval appends to the cache: evaluate the prompt from scratch
      const last = await engine.eval(prompt, { logits: 'last' });
      const top = topLogits(last.logits.subarray((last.rows - 1) * last.vocab), 4);
      assert.equal(top[0].id, greedy.tokens[0], 'the best first token is the greedy one');
      // The reference, walked as the protocol says: next-best first tokens, end-of-text ones and repeated or
      // empty texts left out.
      const seen = new Set([r.text]);
      const want: { text: string; logit: number }[] = [];
      for (const first of top.slice(1)) {
        if (s.eog.includes(first.id)) continue;
        const rest = await engine.generate([...prompt, first.id], { maxTokens: 11, stopTokens: s.eog });
        const text = tok.decode([first.id, ...rest.tokens]);
        if (!text || seen.has(text)) continue;
        seen.add(text);
        want.push({ text, logit: first.logit });
      }
      assert.deepEqual(alts.map((a) => ({ text: a.text, logit: a.logit })), want.slice(0, alts.length));
      for (const [i, a] of alts.entries()) console.log(`      ${i + 2}. ${JSON.stringify(a.text)} (logit ${a.logit.toFixed(2)}, ${a.stop})`);
      console.log(`      1. ${JSON.stringify(r.text)} (greedy)`);
      // Without `alternatives` nothing extra is computed or returned.
      assert.equal(plain.alternatives, undefined);
    } finally {
      await engine.close();
    }
  });

  for (const drafter of ['eagle', 'draft'] as const) {
    it(`with ${drafter === 'eagle' ? 'an EAGLE head' : 'a draft model'}: the same suggestions as plain decoding`, async () => {
      const prefix = 'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        ';
      const want = await client.complete({ parts: fim(prefix, '\n'), maxTokens: 12, alternatives: 4 });
      assert.ok(want.alternatives!.length >= 2);
      const spec = startClient();
      try {
        await spec.initialize({ model, [drafter]: demoModel(drafter === 'eagle' ? 'demo-eagle' : 'demo-draft')!, threads: 2, contextSize: 1024, calibrate: false });
        for (let i = 0; i < 2; i++) {  // the second time from a warm cache
          const r = await spec.complete({ parts: fim(prefix, '\n'), maxTokens: 12, alternatives: 4 });
          assert.equal(r.stats.mode, 'speculative');
          assert.equal(r.text, want.text);
          assert.deepEqual(r.alternatives, want.alternatives);
        }
        // The speculative decoder goes on after the alternatives (its cache moved underneath it).
        const next = await spec.complete({ parts: fim(prefix + 'self', '\n'), maxTokens: 12 });
        const ref = await client.complete({ parts: fim(prefix + 'self', '\n'), maxTokens: 12 });
        assert.equal(next.text, ref.text);
      } finally {
        await spec.dispose();
      }
    });
  }

  it('refuses an `alternatives` out of 0..4 with -32602 naming it', async () => {
    for (const bad of [-1, 5, 1.5, '2', true]) {
      await assert.rejects(client.complete({ parts: ['x'], alternatives: bad as never }),
        (e: unknown) => e instanceof rpc.ResponseError && e.code === ErrorCode.InvalidParams && /`alternatives` must be an integer from 0 to 4/.test(e.message));
    }
    const r = await client.complete({ parts: ['def f():\n'], maxTokens: 4, alternatives: 0 });
    assert.equal(r.alternatives, undefined);
  });
});
