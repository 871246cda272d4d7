// The native tokenizer through the addon on synthetic GGUF vocabularies built here (no ../shared needed):
// agreement with the JavaScript reference tokenizer, plain-text safety, special token ids from keys and
// from texts, the fingerprint, exact bytes, the stream decoder, counting, and clear errors for bad files.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';
import { buildGguf, type GgufMeta } from '../../fixtures/gguf-writer';
import { tinyVocab, TokenType, tokenizerGguf, type VocabSpec } from '../../fixtures/tokenizer-vocab';
import { randomText, ReferenceTokenizer, rng } from './tokenizer-reference';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-tok-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;

function write(spec: VocabSpec): string {
  const file = path.join(tmp, `v${fileNo++}.gguf`);
  fs.writeFileSync(file, tokenizerGguf(spec));
  return file;
}
const u32 = (key: string, value: number): GgufMeta => ({ key, type: 'u32', value });

describe('tokenizer (synthetic vocabularies)', () => {
  const v = tinyVocab();
  const ids = v.ids;
  let tok: Tokenizer;
  before(() => {
    tok = openTokenizer(write({ ...v, extra: [
      u32('tokenizer.ggml.bos_token_id', ids['<|endoftext|>']), u32('tokenizer.ggml.eos_token_id', ids['<|endoftext|>']),
      u32('tokenizer.ggml.fim_pre_token_id', ids['<|fim_prefix|>']), u32('tokenizer.ggml.fim_suf_token_id', ids['<|fim_suffix|>']),
      u32('tokenizer.ggml.fim_mid_token_id', ids['<|fim_middle|>'])] }));
  });

  for (const pre of ['qwen2', 'llama-bpe', 'deepseek-coder']) {
    it(`${pre}: the same ids as the reference tokenizer on 600 random texts`, () => {
      const spec = { ...tinyVocab(), pre };
      const t = openTokenizer(write(spec));
      const ref = new ReferenceTokenizer(pre, spec.tokens, spec.types, spec.merges, pre === 'llama-bpe');
      const r = rng(7);
      for (let i = 0; i < 600; i++) {
        const text = randomText(r) + (i % 50 === 0 ? 'a'.repeat(40 + i) + ' ' + 'ab'.repeat(60) : '');
        assert.deepEqual(Array.from(t.encode(text)), ref.encode(text), JSON.stringify(text));
      }
    });
  }

  it('merges by rank, leftmost first on ties', () => {
    assert.deepEqual(Array.from(tok.encode('aaa')), [ids['aa'], 97]);
    assert.deepEqual(Array.from(tok.encode('aaaa')), [ids['aa'], ids['aa']]);
    assert.deepEqual(Array.from(tok.encode('abc')), [ids['ab'], 99]);  // "a b" ranks before "b c"
    assert.deepEqual(Array.from(tok.encode(' the')), [ids['Ġthe']]);
  });

  it('treats special-token texts in the text as plain text', () => {
    const text = '<|fim_prefix|>x<|fim_suffix|><|endoftext|><tool>[PAD9]<|im_end|>';
    const got = Array.from(tok.encode(text));
    for (const id of got) assert.equal(tok.isSpecial(id), false, `id ${id} is special`);
    assert.equal(tok.decode(got), text);
    assert.ok(!got.includes(ids['<|fim_prefix|>']) && !got.includes(ids['<|endoftext|>']));
  });

  it('matches USER_DEFINED words but not USER_DEFINED markers', () => {
    assert.deepEqual(Array.from(tok.encode('aüa')), [97, ids['ü'], 97]);
    assert.equal(tok.isSpecial(ids['ü']), false);
    assert.equal(tok.isSpecial(ids['<tool>']), true);
    assert.equal(tok.isSpecial(ids['[PAD9]']), true);
    assert.equal(tok.isSpecial(ids['<|fim_prefix|>']), true);
    assert.equal(tok.isSpecial(ids['<|im_end|>']), false);
    assert.equal(tok.tokenText(ids['ü']), 'ü');
    assert.equal(tok.tokenText(ids['<tool>']), '<tool>');
    assert.equal(tok.tokenText(ids['Ġthe']), ' the');
  });

  it('reads special ids from the fim_* keys', () => {
    const s = tok.specials;
    assert.deepEqual([s.bos, s.eos, s.fimPre, s.fimSuf, s.fimMid, s.fimPad, s.eom],
      [ids['<|endoftext|>'], ids['<|endoftext|>'], ids['<|fim_prefix|>'], ids['<|fim_suffix|>'], ids['<|fim_middle|>'], -1, -1]);
    assert.equal(s.eot, ids['<|endoftext|>']);  // no eot key: found by its text
    assert.deepEqual(s.eog, [ids['<|endoftext|>']]);  // the NORMAL '<|im_end|>' is not a generation end
  });

  it('reads the older prefix/suffix/middle keys, and finds roles by text when there are no keys', () => {
    const old = openTokenizer(write({ ...v, extra: [u32('tokenizer.ggml.prefix_token_id', 5), u32('tokenizer.ggml.suffix_token_id', 6),
      u32('tokenizer.ggml.middle_token_id', 7), u32('tokenizer.ggml.eot_token_id', 8), u32('tokenizer.ggml.padding_token_id', 1e6)] })).specials;
    assert.deepEqual([old.fimPre, old.fimSuf, old.fimMid, old.eot, old.pad, old.bos], [5, 6, 7, 8, -1, -1]);
    const byText = openTokenizer(write(v)).specials;
    assert.deepEqual([byText.fimPre, byText.fimSuf, byText.fimMid, byText.eot, byText.bos, byText.eos],
      [ids['<|fim_prefix|>'], ids['<|fim_suffix|>'], ids['<|fim_middle|>'], ids['<|endoftext|>'], -1, -1]);
    assert.equal(byText.addBos, false);
    assert.equal(openTokenizer(write({ ...v, pre: 'llama-bpe' })).specials.addBos, true);
  });

  it('fingerprints the token texts and the pre-tokenizer name (sha256, documented layout)', () => {
    const h = createHash('sha256').update(`frspec-tokenizer-v1\n${v.pre}\n`);
    for (const t of v.tokens) {
      const b = Buffer.from(t, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      h.update(len).update(b);
    }
    assert.equal(tok.fingerprint, h.digest('hex'));
    assert.notEqual(openTokenizer(write({ ...v, pre: 'llama-bpe' })).fingerprint, tok.fingerprint);
    assert.equal(tok.pre, 'qwen2');
    assert.equal(tok.vocabSize, v.tokens.length);
  });

  it('round-trips any bytes, valid UTF-8 or not', () => {
    const r = rng(3);
    for (let i = 0; i < 300; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
      assert.deepEqual(tok.decodeBytes(tok.encode(bytes)), Buffer.from(bytes));
    }
    assert.deepEqual(Array.from(tok.encode(new Uint8Array([0xff, 0x41, 0xc3]))), [0xff, 0x41, 0xc3]);
    assert.equal(tok.decode(tok.encode('')), '');
  });

  it('a vocabulary without a byte token uses the added token with its text (DeepSeek-Coder)', () => {
    const spec = tinyVocab();
    spec.tokens[0xc0] = 'À_unused';  // byte 0xC0 ('À' in byte-level text) now only exists as USER_DEFINED
    spec.tokens.push('À');
    spec.types.push(TokenType.USER_DEFINED);
    const t = openTokenizer(write(spec));
    assert.deepEqual(Array.from(t.encode(new Uint8Array([0x41, 0xc0]))), [0x41, spec.tokens.length - 1]);
  });

  it('streams text without splitting a character, like a WHATWG decoder', () => {
    const r = rng(11);
    const pieces = ['a', ' ', 'é', '😀', '中', '\u0301', '\n'].map((s) => [...Buffer.from(s)]);
    for (let i = 0; i < 300; i++) {
      const bytes: number[] = [];
      const valid = i % 2 === 0;
      for (let k = 0; k < 20; k++) {
        if (valid || r() < 0.7) bytes.push(...pieces[Math.floor(r() * pieces.length)]);
        else bytes.push(Math.floor(r() * 256));
      }
      if (!valid && r() < 0.5) bytes.push(0xf0, 0x9f);  // an incomplete character at the end
      const d = tok.streamDecoder();
      let out = '';
      for (const b of bytes) {  // ids 0-255 are the byte tokens of this vocabulary
        const s = d.push(b);
        if (valid) assert.ok(!s.includes('\ufffd'), 'a broken character was emitted');
        out += s;
      }
      out += d.flush();
      assert.equal(out, new TextDecoder().decode(Uint8Array.from(bytes)));
    }
    const d = tok.streamDecoder();
    assert.deepEqual([d.push(0xf0), d.push(0x9f), d.push(0x98), d.push(0x80), d.flush()], ['', '', '', '😀', '']);
    assert.deepEqual([d.push(0xe4), d.flush(), d.flush()], ['', '\ufffd', '']);
    assert.throws(() => d.push(-1), RangeError);
  });

  it('counts tokens into a table, synchronously and off the JS thread', async () => {
    const r = rng(5);
    const texts = Array.from({ length: 40 }, () => randomText(r, 60));
    const expected = new Uint32Array(tok.vocabSize);
    let total = 0;
    for (const t of texts) for (const id of tok.encode(t)) { expected[id]++; total++; }
    const counts = new Uint32Array(tok.vocabSize);
    let n = 0;
    for (const t of texts) n += tok.countInto(t, counts);
    assert.equal(n, total);
    assert.deepEqual(counts, expected);
    const asyncCounts = new Uint32Array(tok.vocabSize);
    const parts = await Promise.all([0, 1, 2, 3].map((k) => tok.countFilesAsync(texts.filter((_, i) => i % 4 === k), asyncCounts)));
    assert.equal(parts.reduce((a, b) => a + b, 0), total);
    assert.deepEqual(asyncCounts, expected);
    assert.equal(await tok.countFilesAsync([Buffer.from('abc'), 'abc'], new Uint32Array(tok.vocabSize)), 4);
    assert.throws(() => tok.countInto('x', new Uint32Array(3)), /counts has 3 entries/);
  });

  it('rejects bad ids and arguments with clear errors', () => {
    assert.throws(() => tok.decode([0, tok.vocabSize]), (e: Error) => e instanceof RangeError && /token id \d+ is out of range/.test(e.message));
    assert.throws(() => tok.decode([1.5]), TypeError);
    assert.throws(() => tok.tokenText(-1), RangeError);
    assert.throws(() => tok.encode(42 as unknown as string), TypeError);
  });

  describe('refuses files it cannot tokenize exactly, naming the file and the problem', () => {
    const cases: Array<[string, (s: VocabSpec) => VocabSpec, RegExp]> = [
      ['a SentencePiece model', (s) => ({ ...s, model: 'llama' }), /tokenizer.ggml.model is 'llama': only byte-level BPE/],
      ['an unknown pre-tokenizer', (s) => ({ ...s, pre: 'gpt-4o' }), /pre-tokenizer \(tokenizer.ggml.pre\) 'gpt-4o' is not supported; supported: qwen2/],
      ['a merge without a space', (s) => ({ ...s, merges: [...s.merges, 'abc'] }), /merges\[\d+\] 'abc' is not two tokens separated by a space/],
      ['a merge of unknown tokens', (s) => ({ ...s, merges: [...s.merges, 'x yz'] }), /merges\[\d+\] 'x yz': 'yz' is not a token/],
      ['a missing byte token', (s) => ({ ...s, tokens: s.tokens.map((t, i) => (i === 65 ? 'A_' : t)) }), /no token for byte 65/],
      ['token types of the wrong length', (s) => ({ ...s, types: s.types!.slice(1) }), /token_type has \d+ entries for \d+ tokens/],
      ['an unknown token type', (s) => ({ ...s, types: s.types!.map((t, i) => (i === 3 ? 9 : t)) }), /token 3 .* has unknown token type 9/],
    ];
    for (const [what, edit, re] of cases) {
      it(what, () => {
        const file = write(edit(tinyVocab()));
        assert.throws(() => openTokenizer(file), (e: Error) => re.test(e.message) && e.message.startsWith(file));
      });
    }
    it('a GGUF without a tokenizer, a pre-tokenizer or merges; not a GGUF; no file', () => {
      const spec = tinyVocab();
      const meta = (keep: (key: string) => boolean): string => {
        const file = path.join(tmp, `v${fileNo++}.gguf`);
        const all: GgufMeta[] = [
          { key: 'general.architecture', type: 'string', value: 'qwen2' },
          { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
          { key: 'tokenizer.ggml.pre', type: 'string', value: 'qwen2' },
          { key: 'tokenizer.ggml.tokens', type: 'array', elementType: 'string', value: spec.tokens },
          { key: 'tokenizer.ggml.merges', type: 'array', elementType: 'string', value: spec.merges },
        ];
        fs.writeFileSync(file, buildGguf({ metadata: all.filter((m) => keep(m.key)) }));
        return file;
      };
      assert.throws(() => openTokenizer(meta((k) => !k.startsWith('tokenizer'))), /no tokenizer in this file/);
      assert.throws(() => openTokenizer(meta((k) => k !== 'tokenizer.ggml.pre')), /tokenizer.ggml.pre is missing/);
      assert.throws(() => openTokenizer(meta((k) => k !== 'tokenizer.ggml.merges')), /missing metadata key 'tokenizer.ggml.merges'/);
      assert.ok(openTokenizer(meta(() => true)).vocabSize === spec.tokens.length);  // token types are optional
      const notGguf = path.join(tmp, 'text.gguf');
      fs.writeFileSync(notGguf, 'just some text, not a model');
      assert.throws(() => openTokenizer(notGguf), /text.gguf: offset 0: bad magic/);
      assert.throws(() => openTokenizer(path.join(tmp, 'missing.gguf')), /missing.gguf: cannot open/);
    });
  });
});
