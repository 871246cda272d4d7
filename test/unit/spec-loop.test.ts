// The native speculative-loop suite (native/tests/spec_loop_test.cpp) on the demo models: EAGLE head vs
// its PyTorch reference, greedy identity, KV rollback equals a fresh evaluation, every stop condition,
// and the .frv reader's refusals. Skips (saying so) without ../shared.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { nativeBin } from '../helpers/native-bin';
import { demoModel, requireShared } from '../helpers/shared';

describe('speculative loop (native, demo models)', () => {
  it('matches the EAGLE reference, plain greedy output, a fresh KV cache and every stop condition', function () {
    this.timeout(300000);
    const shared = requireShared(this);
    for (const m of ['demo-target', 'demo-draft', 'demo-eagle'] as const) assert.ok(demoModel(m), `${m} is missing`);
    const dir = path.dirname(demoModel('demo-target')!);
    const out = execFileSync(nativeBin('spec_loop_test'), [dir, path.join(shared, 'models', 'demo-eagle.reference.json')], { encoding: 'utf8' });
    assert.match(out, /all spec loop tests passed/, out);
  });
});
