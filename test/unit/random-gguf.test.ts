// bench/random-gguf.ts: random-weight GGUFs of real shapes. Each family's tiny shape (its real tokenizer and
// vocabulary rows, 2 layers) in every file type is written, read back by the GGUF reader with llama.cpp's
// per-tensor types, loaded by our engine and decoded from; the real shapes' type mixes follow llama-quantize.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from '../../native/engine';
import { openGguf } from '../../native/gguf';
import { openTokenizer } from '../../native/tokenizer';
import { planTensors, writeRandomGguf } from '../../bench/random-gguf';
import { FILE_TYPES, type FileType, shapeByName, tensorType, useMoreBits } from '../../bench/shapes';
import { sharedDir } from '../helpers/shared';

describe('random-weight GGUFs of real shapes (bench/random-gguf.ts)', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-shapes-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("llama.cpp's use_more_bits and the Q4_K_M / IQ4_XS mixes on Qwen2.5-Coder-0.5B, 1.5B and 7B", () => {
    // 24 layers: the first 3, the last 3, and every third between.
    assert.deepEqual([...Array(24).keys()].filter((l) => useMoreBits(l, 24)), [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]);
    const count = (shape: string, file: FileType = 'Q4_K_M') => {
      const c: Record<string, number> = {};
      for (const t of planTensors(shapeByName(shape), file)) c[t.type] = (c[t.type] ?? 0) + 1;
      return c;
    };
    // 0.5B (d = 896, not a multiple of 256): the tied head Q6_K -> Q8_0, 12 of 24 attn_v Q6_K -> Q8_0, the other
    // matrices with rows of 896 Q4_K -> Q5_0; only ffn_down (rows of 4864) keeps K-quants (12 Q6_K, 12 Q4_K).
    assert.deepEqual(count('qwen2.5-coder-0.5b'), { Q8_0: 13, F32: 121, Q5_0: 132, Q6_K: 12, Q4_K: 12 });
    assert.deepEqual(count('qwen2.5-coder-1.5b'), { Q6_K: 29, F32: 141, Q4_K: 168 });
    assert.equal(tensorType('Q4_0', 'output.weight', 3584, 0, 28, false), 'Q6_K');
    assert.equal(tensorType('Q4_K_M', 'token_embd.weight', 3584, 0, 28, false), 'Q4_K', 'an untied embedding keeps the base type');
    assert.equal(tensorType('Q5_K_M', 'blk.3.ffn_down.weight', 5504, 3, 24, false), 'Q5_1', 'DeepSeek-Coder-1.3B: d_ff 5504 falls back');
    // IQ4_XS (no importance matrix): attn_v Q5_K (7 query heads per KV head), ffn_down Q5_K in layers 0..2 of 24/28,
    // the head Q6_K; rows that are not a multiple of 256 fall back (IQ4_XS -> IQ4_NL, Q5_K -> Q5_1, Q6_K -> Q8_0).
    assert.deepEqual(count('qwen2.5-coder-0.5b', 'IQ4_XS'), { Q8_0: 1, F32: 121, IQ4_NL: 120, Q5_1: 24, Q5_K: 3, IQ4_XS: 21 });
    assert.deepEqual(count('qwen2.5-coder-7b', 'IQ4_XS'), { F32: 141, IQ4_XS: 166, Q5_K: 31, Q6_K: 1 });
  });

  const families = ['tiny-qwen2.5', 'tiny-llama3', 'tiny-deepseek-coder'];
  for (const shape of families) {
    it(`${shape}: every file type is written, read back and decoded by our engine`, async function () {
      if (shape !== 'tiny-llama3' && !sharedDir()) {
        console.log('    (skipped: the Qwen2.5 and DeepSeek-Coder tokenizers come from ../shared, which is absent)');
        this.skip();
      }
      const s = shapeByName(shape);
      for (const type of FILE_TYPES) {
        const file = path.join(dir, `${shape}-${type}.gguf`);
        const r = writeRandomGguf(shape, type, file);
        assert.equal(fs.statSync(file).size, r.bytes);
        const g = openGguf(file);  // validates offsets, sizes and types
        const plan = planTensors(s, type);
        assert.deepEqual(g.tensors().map((t) => [t.name, t.type]), plan.map((t) => [t.name, t.type]));
        assert.equal((g.get('tokenizer.ggml.tokens') as string[]).length, s.vocabRows);
        const tok = openTokenizer(file);
        const e = await Engine.load(file, { threads: 1, contextSize: 256 });
        try {
          assert.equal(e.info.nVocab, s.vocabRows);
          assert.equal(e.info.nLayers, s.layers);
          const out = await e.generate(tok.encode('def main():\n    return'), { maxTokens: 3, stopTokens: [] });
          assert.equal(out.tokens.length, 3, `${type}: decodes`);
          // Random weights are still distinct per row: two embedding rows never match (checked on the file's bytes).
          const emb = g.tensors()[0];
          const raw = fs.readFileSync(file).subarray(g.dataOffset + emb.offset, g.dataOffset + emb.offset + emb.nBytes);
          const rowBytes = emb.nBytes / s.vocabRows;
          const rows = new Set<string>();
          for (let i = 0; i < 2000; i++) rows.add(raw.subarray(i * rowBytes, (i + 1) * rowBytes).toString('base64'));
          assert.equal(rows.size, 2000, `${type}: embedding rows differ`);
        } finally {
          await e.close();
          fs.rmSync(file);
        }
      }
    });
  }
});
