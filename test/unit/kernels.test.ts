// The quantize/dequantize binding that tests use to build GGUF fixtures (the CPU kernels themselves:
// native kernels_test, run from native/tests/programs.json by native-programs.test.ts).
import { strict as assert } from 'node:assert';
import { dequantize, quantize, type WeightType } from '../../native/quant';

describe('cpu kernels', function () {
  // Block sizes and bytes per block (ggml).
  const layouts: [WeightType, number, number, number][] = [
    ['F32', 1, 4, 1e-7], ['F16', 1, 2, 1e-3], ['BF16', 1, 2, 8e-3], ['Q8_0', 32, 34, 0.02], ['Q6_K', 256, 210, 0.05], ['Q4_K', 256, 144, 0.2],
    ['Q4_0', 32, 18, 0.2], ['Q4_1', 32, 20, 0.2], ['Q5_0', 32, 22, 0.1], ['Q5_1', 32, 24, 0.1], ['Q5_K', 256, 176, 0.1],
    ['IQ4_NL', 32, 18, 0.2], ['IQ4_XS', 256, 136, 0.2],
  ];
  for (const [type, block, bytes, tol] of layouts) {
    it(`quantize/dequantize ${type}`, function () {
      const cols = 512, rows = 3;
      const data = new Float32Array(rows * cols);
      let seed = 7;
      for (let i = 0; i < data.length; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        data[i] = Math.sin(seed) * 2;  // deterministic values in [-2, 2]
      }
      const q = quantize(type, data, cols);
      assert.equal(q.length, rows * (cols / block) * bytes);
      const back = dequantize(type, q, cols);
      assert.equal(back.length, data.length);
      let worst = 0;
      for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(back[i] - data[i]));
      assert.ok(worst <= tol * 2 * 2, `${type}: worst error ${worst}`);  // tol relative to the range [-2, 2]
      // A view at an odd byte offset decodes the same.
      const shifted = new Uint8Array(q.length + 1);
      shifted.set(q, 1);
      assert.deepEqual(dequantize(type, shifted.subarray(1), cols), back);
    });
  }

  it('rejects bad arguments with clear errors', function () {
    assert.throws(() => quantize('Q4_K', new Float32Array(100), 100), /Q4_K.*256/);
    assert.throws(() => quantize('F16', new Float32Array(10), 3), /whole number of rows/);
    assert.throws(() => quantize('Q3_K' as WeightType, new Float32Array(256), 256), /unsupported weight type 'Q3_K'/);
    assert.throws(() => quantize('Q5_0', new Float32Array(48), 48), /Q5_0.*32/);
    assert.throws(() => dequantize('Q8_0', new Uint8Array(35), 32), /35 bytes is not a whole number of Q8_0 rows/);
  });
});
