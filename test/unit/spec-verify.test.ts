// Speculative verification rules (native/tests/spec_verify_test.cpp): masks, greedy acceptance and the
// statistical exactness of sampling verification (chi-square over 200k draws, with power checks).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { nativeBin } from '../helpers/native-bin';

describe('speculative verification (native)', () => {
  it('keeps greedy output exact and the target distribution under sampling', function () {
    this.timeout(60000);
    const out = execFileSync(nativeBin('spec_verify_test'), { encoding: 'utf8' });
    assert.match(out, /all spec verification tests passed/);
  });
});
