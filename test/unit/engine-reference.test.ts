// The whole forward pass of the native engine against an independent float64 TypeScript transformer
// (test/helpers/reference-model.ts) on random-weight fixtures of every weight type, both architectures,
// tied and untied LM heads. No downloads: the fixtures are generated here.
//
// Tolerances, as a fraction of the reference logits' RMS: float weights (F32/F16/BF16) are widened
// exactly and multiplied in F32, so only F32 rounding separates the two (~1e-6; allowed 1e-4). Quantized
// weights are multiplied as llama.cpp does, with each activation row quantized to 8-bit blocks first,
// which adds ~0.4% relative error per dot product (allowed 3%). Argmax must agree at every position
// whose reference top-2 margin exceeds the observed error.
import { strict as assert } from 'node:assert';
import { Engine } from '../../native/engine';
import { type FixtureSpec, fixtureFile, removeFixtures, rng } from '../helpers/fixtures';
import { ReferenceModel } from '../helpers/reference-model';

interface Case { name: string; spec: FixtureSpec; tol: number }

const FLOAT_TOL = 1e-4;
const QUANT_TOL = 3e-2;

export const REFERENCE_CASES: Case[] = [
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
];

export function randomTokens(n: number, vocab: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r.next() * vocab));
}

describe('engine vs float64 reference (random-weight fixtures)', function () {
  this.timeout(60000);
  after(removeFixtures);

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
        let sq = 0, maxErr = 0;
        expected.forEach((row, i) =>
          row.forEach((v, j) => {
            sq += v * v;
            maxErr = Math.max(maxErr, Math.abs(v - got.logits[i * got.vocab + j]));
          }));
        const rms = Math.sqrt(sq / (expected.length * ref.nVocab));
        const rel = maxErr / rms;
        if (process.env.FRSPEC_VERBOSE) console.log(`      ${c.name}: max error ${rel.toExponential(2)} of RMS ${rms.toFixed(3)}`);
        assert.ok(rel <= c.tol, `max |error| ${maxErr.toExponential(3)} = ${rel.toExponential(3)} of the logits' RMS ${rms.toFixed(3)} (allowed ${c.tol})`);
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
