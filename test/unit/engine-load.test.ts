// Loading models: what the engine refuses (unsupported types, shapes, architectures, stray or missing
// tensors) with a message naming the file and the tensor or key, and the memory estimate made from the
// header before loading. (The native engine tests, native/tests/engine_*.cpp, run from
// native/tests/programs.json: native-programs.test.ts.)
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Engine, estimateMemory } from '../../native/engine';
import { openGguf } from '../../native/gguf';
import { type FixtureSpec, buildFixture, fixtureFile, removeFixtures } from '../../fixtures/random-model';
import { writeGguf } from '../../fixtures/gguf-writer';

const BASE: FixtureSpec = { arch: 'qwen2', type: 'F16', tied: true, layers: 1, vocab: 64 };

describe('engine: loading and refusing models', function () {
  this.timeout(30000);
  after(removeFixtures);

  const refuses = async (name: string, spec: Partial<FixtureSpec>, message: RegExp) => {
    const file = fixtureFile(name, { ...BASE, ...spec });
    await assert.rejects(Engine.load(file, { contextSize: 16 }), (e: Error) => {
      assert.match(e.message, message);
      assert.ok(e.message.includes(file), `the message names the file: ${e.message}`);
      return true;
    });
  };

  it('refuses an unsupported weight type, naming the tensor', () =>
    refuses('q3k', { mutate: (ts) => { const t = ts.find((x) => x.name === 'blk.0.ffn_up.weight')!; t.type = 11; t.data = new Uint8Array((512 / 256) * 110 * 256); } },
      /tensor 'blk\.0\.ffn_up\.weight' has type Q3_K, which this engine cannot compute/));

  it('refuses a wrong shape, a missing tensor and a stray tensor', async () => {
    await refuses('shape', { mutate: (ts) => { const t = ts.find((x) => x.name === 'blk.0.attn_k.weight')!; t.shape = [128, 256]; t.data = t.data.subarray(0, 128 * 256 * 2); } },
      /tensor 'blk\.0\.attn_k\.weight' has shape \[128, 256\], expected \[256, 128\]/);
    await refuses('missing', { mutate: (ts) => ts.splice(ts.findIndex((x) => x.name === 'blk.0.ffn_norm.weight'), 1) },
      /missing tensor 'blk\.0\.ffn_norm\.weight'/);
    await refuses('stray', { mutate: (ts) => ts.push({ name: 'blk.0.ffn_up.bias', shape: [512], type: 0, data: new Uint8Array(2048) }) },
      /tensor 'blk\.0\.ffn_up\.bias' is not part of the qwen2 architecture/);
    await refuses('f16-norm', { mutate: (ts) => { const t = ts.find((x) => x.name === 'output_norm.weight')!; t.type = 1; t.data = t.data.subarray(0, 512); } },
      /tensor 'output_norm\.weight' has type F16, expected F32/);
  });

  it('refuses unsupported architectures and settings', async () => {
    const file = fixtureFile('gpt2', BASE).replace('gpt2.gguf', 'gpt2-arch.gguf');
    const img = buildFixture(BASE);
    img.metadata[0] = { key: 'general.architecture', type: 'string', value: 'gpt2' };
    writeGguf(file, img);
    await assert.rejects(Engine.load(file), /architecture 'gpt2' is not supported \(supported: qwen2, llama, eagle\)/);
    await refuses('yarn', { arch: 'llama', extraMeta: [{ key: 'llama.rope.scaling.type', type: 'string', value: 'yarn' }] },
      /rope\.scaling\.type 'yarn' is not supported/);
    await refuses('heads', { extraMeta: [], mutate: () => {}, kvHeads: 3 }, /head_count 4 is not a multiple of head_count_kv 3/);
  });

  it('refuses a file that is not a GGUF, and a missing file', async () => {
    const file = fixtureFile('ok', BASE).replace('ok.gguf', 'junk.gguf');
    fs.writeFileSync(file, 'this is not a model');
    await assert.rejects(Engine.load(file), /bad magic|truncated/);
    await assert.rejects(Engine.load(file + '.absent'), /cannot open/);
  });

  it('estimates memory from the header: weights, KV cache and buffers', () => {
    const file = fixtureFile('ok', BASE);
    const tensorBytes = openGguf(file).tensors().reduce((s, t) => s + t.nBytes, 0);
    const e = estimateMemory(file, { contextSize: 1000, maxBatch: 32, maxLogitRows: 8 });
    assert.equal(e.weights, tensorBytes);
    assert.equal(e.kvCache, 2 * 1 /* layers */ * 2 /* kv heads */ * 64 /* head dim */ * 4 * 1000);
    assert.ok(e.scratch >= 4 * 8 * 64 /* logits */ + 4 * 32 * 256 * 3, `scratch ${e.scratch}`);
    assert.equal(e.argmaxFilter, 64 * (256 + 16), 'an F16 LM head of 64 x 256 gets an 8-bit copy for greedy decoding');
    assert.equal(e.total, e.weights + e.kvCache + e.scratch + e.argmaxFilter);
  });
});
