// Select Model…'s data: fake Ollama and LM Studio folders under a temporary HOME holding small real GGUF files
// written here; names as the tools show them, header facts (architecture, parameters, quantization), the
// instruct warning, the tokenizer fingerprint (checked against the engine's own) and draft pairing.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readGgufHeader, tokenizerFingerprint } from '../../common/gguf-header';
import { describeModel, looksInstruct, pairDraftModel } from '../../common/model-info';
import { discoverModels, knownModelFolders, ollamaModelNames } from '../../common/models';
import { openTokenizer } from '../../native/tokenizer';
import { buildFixture, type FixtureSpec } from '../../fixtures/random-model';
import { type GgufMeta, writeGguf } from '../../fixtures/gguf-writer';
import { tinyVocab } from '../../fixtures/tokenizer-vocab';

describe('model discovery: names people know, header facts, draft pairing', function () {
  this.timeout(60000);
  const v = tinyVocab();
  const tokMeta = (pre: string, name: string, fileType?: number): GgufMeta[] => [
    { key: 'general.name', type: 'string', value: name },
    ...(fileType === undefined ? [] : [{ key: 'general.file_type', type: 'u32', value: fileType } as GgufMeta]),
    { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: 'string', value: pre },
    { key: 'tokenizer.ggml.tokens', type: 'array', elementType: 'string', value: v.tokens },
    { key: 'tokenizer.ggml.token_type', type: 'array', elementType: 'i32', value: v.types },
    { key: 'tokenizer.ggml.merges', type: 'array', elementType: 'string', value: v.merges },
    { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: v.ids['<|endoftext|>'] },
  ];
  const shape = { arch: 'qwen2', tied: true, layers: 1, vocab: v.tokens.length } as const;
  let home: string;
  const write = (file: string, spec: FixtureSpec) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fx = buildFixture(spec);
    // buildFixture names every model "fixture-…": drop its general.name so ours (from extraMeta) is the one read.
    writeGguf(file, { ...fx, metadata: fx.metadata.filter((m, i, all) => m.key !== 'general.name' || all.findIndex((x) => x.key === 'general.name') !== i) });
    return file;
  };
  const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  let ollamaTarget: string, ollamaDraft: string, lmInstruct: string, otherTok: string;

  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-home-'));
    const ollama = path.join(home, '.ollama', 'models');
    // Two models pulled with Ollama: blobs named by digest, manifests naming them.
    const tmpT = write(path.join(home, 'tmp-target.gguf'), { ...shape, type: 'Q4_K_M', d: 256, ff: 1024, layers: 2, seed: 1, extraMeta: tokMeta(v.pre, 'Qwen2.5 Coder 1.5B', 15) });
    const tmpD = write(path.join(home, 'tmp-draft.gguf'), { ...shape, type: 'Q8_0', d: 32, ff: 64, seed: 2, extraMeta: tokMeta(v.pre, 'Qwen2.5 Coder 0.5B') });
    const blobs = path.join(ollama, 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    ollamaTarget = path.join(blobs, `sha256-${sha(tmpT)}`);
    ollamaDraft = path.join(blobs, `sha256-${sha(tmpD)}`);
    fs.renameSync(tmpT, ollamaTarget);
    fs.renameSync(tmpD, ollamaDraft);
    const manifest = (blob: string, model: string, tag: string, ns = 'library', host = 'registry.ollama.ai') => {
      const dir = path.join(ollama, 'manifests', host, ns, model);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, tag), JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        layers: [
          { mediaType: 'application/vnd.ollama.image.license', digest: `sha256:${'0'.repeat(64)}`, size: 10 },
          { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${path.basename(blob).slice(7)}`, size: fs.statSync(blob).size },
        ],
      }));
    };
    manifest(ollamaTarget, 'qwen2.5-coder', 'latest');
    manifest(ollamaTarget, 'qwen2.5-coder', '1.5b');
    manifest(ollamaDraft, 'qwen2.5-coder', '0.5b');
    fs.writeFileSync(path.join(blobs, `sha256-${'0'.repeat(64)}`), 'Apache License 2.0 '.repeat(100));  // a non-GGUF blob
    // LM Studio: an instruct model of the same tokenizer, and a model with another tokenizer.
    lmInstruct = write(path.join(home, '.lmstudio', 'models', 'lmstudio-community', 'Qwen2.5-Coder-1.5B-Instruct-GGUF', 'Qwen2.5-Coder-1.5B-Instruct-Q8_0.gguf'),
      { ...shape, type: 'Q8_0', d: 64, seed: 3, extraMeta: tokMeta(v.pre, 'Qwen2.5 Coder 1.5B Instruct', 7) });
    otherTok = write(path.join(home, '.cache', 'lm-studio', 'models', 'someone', 'tiny-llama-GGUF', 'tiny.gguf'),
      { ...shape, type: 'F32', d: 32, seed: 4, extraMeta: tokMeta('llama-bpe', 'Tiny') });
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  const found = () => discoverModels(knownModelFolders(home));

  it('names Ollama blobs by their manifest name and LM Studio files by publisher/model', () => {
    const byPath = new Map(found().map((f) => [f.path, f]));
    assert.equal(byPath.size, 4, [...byPath.keys()].join('\n'));  // the license blob is not a GGUF
    assert.equal(byPath.get(ollamaTarget)?.name, 'qwen2.5-coder:1.5b');  // not ':latest' when a tag says more
    assert.equal(byPath.get(ollamaDraft)?.name, 'qwen2.5-coder:0.5b');
    assert.equal(byPath.get(ollamaTarget)?.source, 'Ollama');
    assert.equal(byPath.get(lmInstruct)?.name, 'lmstudio-community/Qwen2.5-Coder-1.5B-Instruct-GGUF');
    assert.equal(byPath.get(otherTok)?.name, 'someone/tiny-llama-GGUF');
  });

  it('names models of other namespaces and hosts, and ignores broken manifests', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-manifests-'));
    try {
      const put = (rel: string, body: string) => { fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true }); fs.writeFileSync(path.join(dir, rel), body); };
      const layer = (hex: string) => JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}` }] });
      put('registry.ollama.ai/someone/coder/q4', layer('a'.repeat(64)));
      put('hf.co/bartowski/Qwen-GGUF/Q4_K_M', layer('b'.repeat(64)));
      put('registry.ollama.ai/library/broken/latest', '{not json');
      put('registry.ollama.ai/library/nolayer/latest', JSON.stringify({ layers: [] }));
      put('registry.ollama.ai/library/evil/latest', layer('../../etc/passwd'));
      const names = ollamaModelNames(dir);
      assert.deepEqual([...names].sort(), [[`sha256-${'a'.repeat(64)}`, 'someone/coder:q4'], [`sha256-${'b'.repeat(64)}`, 'hf.co/bartowski/Qwen-GGUF:Q4_K_M']].sort());
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('reads architecture, parameter count and quantization from the header', () => {
    const t = describeModel(ollamaTarget, 'qwen2.5-coder:1.5b', 'Ollama');
    assert.equal(t.architecture, 'qwen2');
    assert.equal(t.quantization, 'Q4_K_M');  // general.file_type 15
    const h = readGgufHeader(ollamaTarget);
    const expected = h.tensors.reduce((s, x) => s + x.elements, 0);
    // d=256, 2 layers, ff=1024, vocab: embedding + per layer q,k,v,o, 3 ffn matrices, norms and biases.
    const d = 256, kv = 128, ff = 1024, V = v.tokens.length;
    assert.equal(expected, V * d + 2 * (d + d * d + kv * d * 2 + d + kv * 2 + d * d + d + 3 * d * ff) + d);
    assert.equal(t.parameters, expected);
    // Without general.file_type, the type holding most weights names the quantization.
    assert.equal(describeModel(ollamaDraft).quantization, 'Q8_0');
    assert.equal(describeModel(otherTok).quantization, 'F32');
    assert.equal(t.instruct, false);
  });

  it('computes the engine tokenizer fingerprint without the engine', () => {
    for (const f of [ollamaTarget, otherTok]) {
      const native = openTokenizer(f);
      assert.equal(tokenizerFingerprint(readGgufHeader(f)), native.fingerprint, f);
    }
    assert.notEqual(describeModel(ollamaTarget).fingerprint, describeModel(otherTok).fingerprint);
  });

  it('warns about instruct/chat models', () => {
    const m = describeModel(lmInstruct, 'lmstudio-community/Qwen2.5-Coder-1.5B-Instruct-GGUF', 'LM Studio');
    assert.equal(m.instruct, true);
    assert.equal(m.quantization, 'Q8_0');
    assert.ok(looksInstruct('gemma-2-2b-it'));
    assert.ok(looksInstruct(undefined, 'Llama 3 Chat'));
    assert.ok(!looksInstruct('qwen2.5-coder:1.5b', 'Qwen2.5 Coder 1.5B', 'deepseek-coder-base', 'split-model'));
  });

  it('pairs the smallest model of the same tokenizer, at most a third of the size, and says why', () => {
    const all = found().map((f) => describeModel(f.path, f.name, f.source));
    const target = all.find((m) => m.path === ollamaTarget)!;
    const p = pairDraftModel(target, all);
    assert.equal(p.draft?.path, ollamaDraft, p.reason);
    assert.match(p.reason, /qwen2\.5-coder:0\.5b .*drafts for qwen2\.5-coder:1\.5b.*same tokenizer.*smallest of 2 such models/);
    // The other tokenizer's model (smaller still) is never chosen; a model too big for a draft gets none.
    const draft = all.find((m) => m.path === ollamaDraft)!;
    const none = pairDraftModel(draft, all);
    assert.equal(none.draft, undefined);
    assert.match(none.reason, /none is at most a third of its size/);
    const other = all.find((m) => m.path === otherTok)!;
    assert.match(pairDraftModel(other, all).reason, /no other model on this machine shares/);
  });

  it('gives a clear error for a damaged file instead of throwing', () => {
    const bad = path.join(home, 'bad.gguf');
    fs.writeFileSync(bad, Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.alloc(8, 0xff)]));
    const m = describeModel(bad);
    assert.match(m.error ?? '', /bad\.gguf/);
    const cut = path.join(home, 'cut.gguf');
    fs.writeFileSync(cut, fs.readFileSync(ollamaDraft).subarray(0, 200));
    assert.match(describeModel(cut).error ?? '', /cut\.gguf: GGUF header runs past the end/);
  });
});
