// The engine on the real demo model (../shared/models) against its reference outputs: the target's greedy
// argmax at every position and top-10 logits at the last. (The EAGLE head teacher-forced on the target's
// features against demo-eagle.reference.json: native/tests/spec_loop_test.cpp, run by spec-loop.test.ts.)
// Skips clearly when ../shared is absent.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Engine } from '../../native/engine';
import { demoModel, requireShared } from '../helpers/shared';

const argmaxRows = (logits: Float32Array, vocab: number) =>
  Array.from({ length: logits.length / vocab }, (_, i) => {
    const row = logits.subarray(i * vocab, (i + 1) * vocab);
    let best = 0;
    for (let j = 1; j < vocab; j++) if (row[j] > row[best]) best = j;
    return best;
  });

describe('engine on the demo models', function () {
  this.timeout(120000);

  it('demo-target: argmax at all 41 positions, top-10 ids and logits (within 1e-2) at the last', async function () {
    const shared = requireShared(this);
    const ref = JSON.parse(fs.readFileSync(path.join(shared, 'models', 'demo-target.reference.json'), 'utf8'));
    const engine = await Engine.load(demoModel('demo-target')!, { threads: 2, contextSize: 64 });
    try {
      const r = await engine.eval(ref.tokens, { logits: 'all' });
      assert.equal(r.rows, 41);
      assert.deepEqual(argmaxRows(r.logits, r.vocab), ref.argmax);
      const last = r.logits.subarray(40 * r.vocab);
      const top10 = [...last.keys()].sort((a, b) => last[b] - last[a]).slice(0, 10);
      assert.deepEqual(top10, ref.logits_last_top10);
      top10.forEach((id, k) => {
        const diff = Math.abs(last[id] - ref.logits_last_top10_values[k]);
        assert.ok(diff <= 1e-2, `logit of ${id}: ${last[id]} vs ${ref.logits_last_top10_values[k]}`);
      });
    } finally {
      await engine.close();
    }
  });
});
