// The CUDA backend. CI has no GPU, so this checks what must hold everywhere: the CUDA test program (built
// with the addon; with the CUDA backend inside whenever nvcc was found) runs, and either passes every
// check on a GPU or says plainly that there is no usable driver/GPU — the case where the engine falls back
// to the CPU. The GPU checks and benchmarks themselves run on the GPU machine (bench/gpu/run.sh,
// docs/cuda.md).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { nativeBin } from '../helpers/native-bin';

describe('cuda backend', function () {
  it('cuda_backend_test passes on a GPU, or skips with the reason', function () {
    this.timeout(120000);
    const out = execFileSync(nativeBin('cuda_backend_test'), { encoding: 'utf8' });  // throws on a non-zero exit
    const skip = /^SKIP: no CUDA backend: (.+)$/m.exec(out);
    if (skip) {
      assert.ok(skip[1].length > 10, `the reason should say what is missing: '${skip[1]}'`);
      return;
    }
    assert.match(out, /checks, 0 failed/);
  });

  it('cuda_weight_types_test: each weight type runs like the CPU on a GPU or is refused by name (its logic checked on two CPU backends)', function () {
    this.timeout(60000);
    const out = execFileSync(nativeBin('cuda_weight_types_test'), { encoding: 'utf8' });
    if (!/^SKIP: no CUDA backend: .{10,}$/m.test(out)) assert.match(out, /computed like the CPU or refused clearly/);
    const self = execFileSync(nativeBin('cuda_weight_types_test'), ['--cpu-as-gpu'], { encoding: 'utf8' });
    assert.equal((self.match(/matmul within 0\.00e\+00 .* get_rows within 0\.0e\+00/g) ?? []).length, 11, self);
  });
});
