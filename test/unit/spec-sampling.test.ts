// Speculative sampling is exact end to end (native/tests/spec_sampling_test.cpp): a tiny random-weight
// target and draft model (16-token vocabulary) written here, >= 100k seeded requests, chi-square of the
// first two tokens against the target's exact law. Needs no ../shared.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { fixtureFile } from '../helpers/fixtures';
import { nativeBin } from '../helpers/native-bin';

describe('speculative sampling (native, random-weight models)', () => {
  it('emits the target distribution exactly (chain with FR-Spec q = 0 outside the subset, full chain, tree)', function () {
    this.timeout(300000);
    const shape = { arch: 'qwen2', type: 'F32', tied: true, d: 32, layers: 1, heads: 2, kvHeads: 1, ff: 64, vocab: 16 } as const;
    const target = fixtureFile('spec-target', { ...shape, seed: 11 });
    const draft = fixtureFile('spec-draft', { ...shape, seed: 12 });
    const out = execFileSync(nativeBin('spec_sampling_test'), [target, draft, '100000'], { encoding: 'utf8' });
    console.log(out.trim().split('\n').map((l) => `      ${l}`).join('\n'));
    assert.match(out, /all spec sampling tests passed/, out);
  });
});
