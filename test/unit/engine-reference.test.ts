// The whole forward pass of the native engine against an independent float64 TypeScript transformer
// (test/helpers/reference-model.ts) on random-weight fixtures of every weight type, both architectures,
// tied and untied LM heads. No downloads: the fixtures are generated here.
//
// Tolerances, as fractions of the reference logits' RMS: float weights (F32/F16/BF16) are widened
// exactly and multiplied in F32, so only F32 rounding separates the two (observed ~1e-6 max; allowed
// 1e-4). Quantized weights are multiplied as llama.cpp does, each activation row first rounded to 8-bit
// blocks (scale = max/127: ~0.5% relative error per dot product), and the errors of the 8 chained matmuls
// of 2 layers compound: observed 1.0-1.6% RMS and 4-6% max; allowed 3% RMS and 10% max. A wrong block
// layout, scale or row order shows up as errors of the order of 100%. Argmax must agree at every
// position whose reference top-2 margin exceeds twice the largest observed error.
import { strict as assert } from 'node:assert';
import { Engine } from '../../native/engine';
import { openGguf } from '../../native/gguf';
import { type FixtureSpec, fixtureFile, randomTokens, removeFixtures } from '../../fixtures/random-model';
import { ReferenceModel } from '../helpers/reference-model';

interface Case { name: string; spec: FixtureSpec; tol: { max: number; rms: number } }

const FLOAT_TOL = { max: 1e-4, rms: 1e-4 };
const QUANT_TOL = { max: 0.1, rms: 0.03 };

const REFERENCE_CASES: Case[] = [
  { name: 'qwen2-F32-tied', spec: { arch: 'qwen2', type: 'F32', tied: true }, tol: FLOAT_TOL },
  { name: 'qwen2-F16-untied', spec: { arch: 'qwen2', type: 'F16', tied: false }, tol: FLOAT_TOL },
  { name: 'qwen2-BF16-tied', spec: { arch: 'qwen2', type: 'BF16', tied: true }, tol: FLOAT_TOL },
  { name: 'qwen2-Q8_0-untied', spec: { arch: 'qwen2', type: 'Q8_0', tied: false }, tol: QUANT_TOL },
  { name: 'qwen2-Q4_K-tied', spec: { arch: 'qwen2', type: 'Q4_K', tied: true }, tol: QUANT_TOL },
  { name: 'qwen2-Q6_K-untied', spec: { arch: 'qwen2', type: 'Q6_K', tied: false }, tol: QUANT_TOL },
  { name: 'qwen2-Q4_K_M-tied', spec: { arch: 'qwen2', type: 'Q4_K_M', tied: true }, tol: QUANT_TOL },
  { name: 'llama-F16-untied-rope_freqs', spec: { arch: 'llama', type: 'F16', tied: false, ropeFreqs: true }, tol: FLOAT_TOL },
  { name: 'llama-F32-tied-linear4', spec: { arch: 'llama', type: 'F32', tied: true, ropeLinear: 4, kvHeads: 1 }, tol: FLOAT_TOL },
  { name: 'llama-Q8_0-tied', spec: { arch: 'llama', type: 'Q8_0', tied: true, kvHeads: 4 }, tol: QUANT_TOL },
  { name: 'llama-Q4_K_M-untied', spec: { arch: 'llama', type: 'Q4_K_M', tied: false, ropeFreqs: true }, tol: QUANT_TOL },
  // The formats real Q4_0 / Q4_K_M / Q5_K_M files add: each alone on both architectures, and the mixes with
  // d = 320 (not a multiple of 256), where llama-quantize falls back to Q5_0 / Q5_1 / Q8_0 as for Qwen2.5-0.5B.
  { name: 'qwen2-Q4_0-tied', spec: { arch: 'qwen2', type: 'Q4_0', tied: true }, tol: QUANT_TOL },
  { name: 'llama-Q4_0-untied', spec: { arch: 'llama', type: 'Q4_0', tied: false }, tol: QUANT_TOL },
  { name: 'qwen2-Q4_1-untied', spec: { arch: 'qwen2', type: 'Q4_1', tied: false }, tol: QUANT_TOL },
  { name: 'llama-Q4_1-tied', spec: { arch: 'llama', type: 'Q4_1', tied: true }, tol: QUANT_TOL },
  { name: 'qwen2-Q5_0-untied', spec: { arch: 'qwen2', type: 'Q5_0', tied: false }, tol: QUANT_TOL },
  { name: 'llama-Q5_0-tied', spec: { arch: 'llama', type: 'Q5_0', tied: true }, tol: QUANT_TOL },
  { name: 'qwen2-Q5_1-tied', spec: { arch: 'qwen2', type: 'Q5_1', tied: true }, tol: QUANT_TOL },
  { name: 'llama-Q5_1-untied', spec: { arch: 'llama', type: 'Q5_1', tied: false }, tol: QUANT_TOL },
  { name: 'qwen2-Q5_K-tied', spec: { arch: 'qwen2', type: 'Q5_K', tied: true }, tol: QUANT_TOL },
  { name: 'llama-Q5_K-untied', spec: { arch: 'llama', type: 'Q5_K', tied: false }, tol: QUANT_TOL },
  { name: 'qwen2-Q4_K_M-d320-tied', spec: { arch: 'qwen2', type: 'Q4_K_M', tied: true, d: 320 }, tol: QUANT_TOL },
  { name: 'llama-Q5_K_M-d320-untied', spec: { arch: 'llama', type: 'Q5_K_M', tied: false, d: 320 }, tol: QUANT_TOL },
  { name: 'qwen2-Q5_K_M-untied', spec: { arch: 'qwen2', type: 'Q5_K_M', tied: false }, tol: QUANT_TOL },
];

describe('engine vs float64 reference (random-weight fixtures)', function () {
  this.timeout(60000);
  after(removeFixtures);

  it('the d = 320 mixes hold the fallback types llama-quantize writes for rows that are not a multiple of 256', () => {
    const types = (name: string) => {
      const c = REFERENCE_CASES.find((x) => x.name === name)!;
      return [...new Set(openGguf(fixtureFile(c.name, c.spec)).tensors().map((t) => t.type))].sort();
    };
    assert.deepEqual(types('qwen2-Q4_K_M-d320-tied'), ['F32', 'Q5_0', 'Q6_K', 'Q8_0']);
    assert.deepEqual(types('llama-Q5_K_M-d320-untied'), ['F32', 'Q5_1', 'Q6_K', 'Q8_0']);
  });

  it("backend 'auto' on a type the GPU backend may lack (Q5_0) runs on the CPU with the CPU's exact logits, saying why", async () => {
    const c = REFERENCE_CASES.find((x) => x.name === 'qwen2-Q5_0-untied')!;
    const file = fixtureFile(c.name, c.spec);
    const tokens = randomTokens(6, 320, 3);
    const cpu = await Engine.load(file, { threads: 2, contextSize: 16, backend: 'cpu' });
    const auto = await Engine.load(file, { threads: 2, contextSize: 16, backend: 'auto' });
    try {
      const info = auto.info;
      if (info.backend.startsWith('cpu')) {
        // No GPU in this build or machine, or (with one) the fallback: either way a note says why.
        assert.match(info.backendNote ?? '', /no CUDA backend|no usable CUDA|no CUDA GPU|CUDA cannot run this model \(.*'[^']+' \(Q5_0/i);
        const [a, b] = [await cpu.eval(tokens, { logits: 'all' }), await auto.eval(tokens, { logits: 'all' })];
        assert.deepEqual(b.logits, a.logits);
      }
    } finally {
      await cpu.close();
      await auto.close();
    }
  });

  for (const c of REFERENCE_CASES) {
    it(`${c.name}: logits at every position`, async () => {
      const file = fixtureFile(c.name, c.spec);
      const ref = new ReferenceModel(file);
      const tokens = randomTokens(14, ref.nVocab, 7);
      const expected = ref.forward(tokens);
      const engine = await Engine.load(file, { threads: 2, contextSize: 64 });
      try {
        const got = await engine.eval(tokens, { logits: 'all' });
        assert.equal(got.rows, tokens.length);
        assert.equal(got.vocab, ref.nVocab);
        let sq = 0, sqErr = 0, maxErr = 0;
        expected.forEach((row, i) =>
          row.forEach((v, j) => {
            const e = Math.abs(v - got.logits[i * got.vocab + j]);
            sq += v * v;
            sqErr += e * e;
            maxErr = Math.max(maxErr, e);
          }));
        const rms = Math.sqrt(sq / (expected.length * ref.nVocab));
        const rel = maxErr / rms, relRms = Math.sqrt(sqErr / (expected.length * ref.nVocab)) / rms;
        if (process.env.FRSPEC_VERBOSE) console.log(`      ${c.name}: max error ${rel.toExponential(2)}, rms error ${relRms.toExponential(2)} of RMS ${rms.toFixed(3)}`);
        assert.ok(rel <= c.tol.max, `max |error| ${maxErr.toExponential(3)} = ${rel.toExponential(3)} of the logits' RMS ${rms.toFixed(3)} (allowed ${c.tol.max})`);
        assert.ok(relRms <= c.tol.rms, `RMS error ${relRms.toExponential(3)} of the logits' RMS (allowed ${c.tol.rms})`);
        expected.forEach((row, i) => {
          const order = [...row.keys()].sort((a, b) => row[b] - row[a]);
          if (row[order[0]] - row[order[1]] <= 2 * maxErr) return;  // a near tie: either answer is right
          const gotRow = got.logits.subarray(i * got.vocab, (i + 1) * got.vocab);
          const argmax = gotRow.indexOf(Math.max(...gotRow));
          assert.equal(argmax, order[0], `argmax at position ${i}`);
        });
      } finally {
        await engine.close();
      }
    });
  }
});
