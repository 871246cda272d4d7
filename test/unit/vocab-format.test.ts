// The .frv format, the sparse per-file counts and the count cache, without a tokenizer: round trips,
// refusal of every truncation and every damaged byte, refusal of another tokenizer's file.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CountCache } from '../../vocab/cache';
import { checkTokenizer, decodeVocab, encodeVocab, readVocab, type VocabFile, writeVocab } from '../../vocab/format';
import { coverage, forcedSpecialIds, rankCounts, transferCoverage } from '../../vocab/rank';
import { addPayload, decodePayload, SparseCounter } from '../../vocab/sparse';

/** A small deterministic pseudo-random generator, so failures reproduce. */
function rng(seed: number) {
  return () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
}

function sampleVocab(): VocabFile {
  const totals = new Float64Array(1000);
  const rand = rng(7);
  for (let i = 0; i < 5000; i++) totals[Math.floor(rand() ** 3 * 1000)]++;
  totals[5] = 2 ** 40;  // a count beyond 32 bits
  const ranked = rankCounts(totals, [999, 998]);
  const tokens = ranked.counts.reduce((s, c) => s + c, 0);
  return {
    fingerprint: 'fp-aaaa', pre: 'qwen2', vocabSize: 1000, source: 'corpus/train.jsonl.xz — ünïcode',
    corpus: { files: 12, bytes: 34567, tokens }, createdAt: Date.UTC(2026, 0, 2, 3, 4, 5), ...ranked,
  };
}

describe('vocab .frv format', () => {
  it('round-trips every field', () => {
    const v = sampleVocab();
    const back = decodeVocab(encodeVocab(v), 'v.frv');
    assert.deepEqual(back, v);
    assert.equal(back.ids[0], 999);
    assert.equal(back.ids[1], 998);
    assert.equal(back.ids[2], 5);
    assert.equal(back.counts[2], 2 ** 40);
  });

  it('lays out the header as documented in docs/vocab-format.md', () => {
    const buf = encodeVocab(sampleVocab());
    assert.equal(buf.toString('latin1', 0, 8), 'FRVOCAB\0');
    assert.equal(buf.readUInt32LE(8), 1);
    const h = buf.readUInt32LE(12), n = buf.readUInt32LE(20);
    assert.equal(h % 8, 0);
    assert.equal(buf.readUInt32LE(16), 1000);
    assert.equal(buf.readUInt32LE(24), 2);
    assert.equal(buf.readUInt32LE(h), 999);
    const countsAt = h + ((4 * n + 7) & ~7);
    assert.equal(buf.readBigUInt64LE(countsAt + 16), 2n ** 40n);
    assert.equal(buf.length, countsAt + 8 * n + 4);
    assert.equal(buf.readUInt32LE(64), 'fp-aaaa'.length);
    assert.equal(buf.toString('utf8', 68, 68 + 7), 'fp-aaaa');
  });

  it('refuses every truncation and every damaged byte with a clear message', () => {
    const buf = encodeVocab(sampleVocab());
    for (let len = 0; len < buf.length; len++) {
      assert.throws(() => decodeVocab(buf.subarray(0, len), 'v.frv'), /^Error: v\.frv: offset \d+: (truncated|not a vocabulary file)/, `length ${len}`);
    }
    for (let at = 0; at < buf.length; at += 3) {
      const bad = Buffer.from(buf);
      bad[at] ^= 0x40;
      assert.throws(() => decodeVocab(bad, 'v.frv'), /^Error: v\.frv: offset \d+: /, `byte ${at}`);
    }
    assert.throws(() => decodeVocab(Buffer.concat([buf, Buffer.alloc(1)]), 'v.frv'), /trailing bytes/);
  });

  it('refuses well-checksummed files that break the rules (order, range, sums)', () => {
    const v = sampleVocab();
    const swapped = { ...v, ids: Uint32Array.from(v.ids), counts: Float64Array.from(v.counts) };
    [swapped.ids[3], swapped.ids[4]] = [swapped.ids[4], swapped.ids[3]];
    [swapped.counts[3], swapped.counts[4]] = [swapped.counts[4], swapped.counts[3]];
    assert.throws(() => decodeVocab(encodeVocab(swapped), 'v.frv'), /not ranked \(entry 4/);
    const outOfRange = { ...v, vocabSize: 999 };
    assert.throws(() => decodeVocab(encodeVocab(outOfRange), 'v.frv'), /id 999 is outside the vocabulary \(size 999\)/);
    const wrongSum = { ...v, corpus: { ...v.corpus, tokens: v.corpus.tokens + 1 } };
    assert.throws(() => decodeVocab(encodeVocab(wrongSum), 'v.frv'), /counts add up to/);
    const futureVersion = encodeVocab(v);
    futureVersion.writeUInt32LE(2, 8);
    assert.throws(() => decodeVocab(futureVersion, 'v.frv'), /offset 8: unsupported version 2/);
  });

  it('refuses a file made for another tokenizer, naming both fingerprints', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-frv-'));
    try {
      const file = path.join(dir, 'v.frv');
      writeVocab(file, sampleVocab());
      assert.equal(readVocab(file, { name: 'same.gguf', tokenizer: { fingerprint: 'fp-aaaa', pre: 'qwen2', vocabSize: 1000 } }).ids.length, sampleVocab().ids.length);
      assert.throws(
        () => readVocab(file, { name: 'llama.gguf', tokenizer: { fingerprint: 'fp-bbbb', pre: 'llama-bpe', vocabSize: 128256 } }),
        /v\.frv was built for tokenizer fp-aaaa \(pre-tokenizer qwen2, 1000 tokens\), but llama\.gguf has tokenizer fp-bbbb \(pre-tokenizer llama-bpe, 128256 tokens\)/,
      );
      assert.throws(() => checkTokenizer(sampleVocab(), 'v.frv', 'm.gguf', { fingerprint: 'fp-aaaa', pre: 'qwen2', vocabSize: 1001 }), /1001 tokens/);
      assert.throws(() => readVocab(path.join(dir, 'missing.frv')), /missing\.frv: cannot read: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('vocab ranking', () => {
  it('puts the forced specials first, then count descending with ties by id, and drops unseen ids', () => {
    const totals = Float64Array.from([0, 5, 3, 5, 0, 9, 1, 3]);
    const r = rankCounts(totals, [4, 6]);
    assert.deepEqual(Array.from(r.ids), [4, 6, 5, 1, 3, 2, 7]);
    assert.deepEqual(Array.from(r.counts), [0, 1, 9, 5, 5, 3, 3]);
    assert.equal(r.forced, 2);
    const cov = coverage(r.counts, 26, [1, 3, 100]);
    assert.deepEqual(cov.map((c) => c.share), [0, 10 / 26, 1]);
    const other = Float64Array.from([10, 0, 0, 0, 0, 30, 0, 0]);
    assert.deepEqual(transferCoverage(r.ids, other, [2, 3, 8]).map((c) => c.share), [0, 0.75, 0.75]);
  });

  it('forces EOS/EOT/EOM, every end-of-generation id and the FIM and repository markers, once each', () => {
    const specials = { bos: 0, eos: 10, eot: 10, pad: 10, fimPre: 11, fimSuf: 12, fimMid: 13, fimPad: -1, fimRep: 14, fimSep: 15 };
    assert.deepEqual(forcedSpecialIds(specials, 16), [10, 11, 12, 13, 14, 15]);
    assert.deepEqual(forcedSpecialIds(specials, 12), [10, 11]);
    assert.deepEqual(forcedSpecialIds({ ...specials, eom: 9, eog: [10, 7, 15] }, 16), [10, 9, 7, 15, 11, 12, 13, 14]);
  });
});

describe('vocab sparse counts', () => {
  it('encodes and merges counts exactly, including ids and counts that need several varint bytes', () => {
    const rand = rng(3);
    const counter = new SparseCounter(200000);
    for (let round = 0; round < 5; round++) {
      const ids: number[] = [];
      for (let i = 0; i < 3000; i++) ids.push(Math.floor(rand() ** 4 * 200000));
      for (let i = 0; i < 300000; i++) ids.push(199999);  // one count of 300000 (3 varint bytes)
      const { payload, distinct } = counter.encode(ids);
      const expected = new Map<number, number>();
      for (const id of ids) expected.set(id, (expected.get(id) ?? 0) + 1);
      assert.equal(distinct, expected.size);
      assert.deepEqual(decodePayload(payload, 200000), new Map([...expected].sort((a, b) => a[0] - b[0])));
    }
    assert.throws(() => counter.encode([200000]), /token id 200000 is outside the vocabulary/);
  });

  it('refuses corrupt payloads', () => {
    const totals = new Float64Array(10);
    assert.throws(() => addPayload(Uint8Array.from([0x80]), totals, 'f'), /f: corrupt counts at byte 1/);
    assert.throws(() => addPayload(Uint8Array.from([20, 1]), totals, 'f'), /corrupt counts \(id 20/);
    assert.throws(() => addPayload(Uint8Array.from([1, 1, 0, 1]), totals, 'f'), /repeated id 1/);
    assert.throws(() => addPayload(Uint8Array.from([1, 0]), totals, 'f'), /count 0/);
  });
});

describe('vocab count cache', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-cache-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips entries and matches them by stamp', () => {
    const file = path.join(dir, 'c');
    const c = new CountCache('fp', 'rules');
    const counted = new SparseCounter(100).encode([1, 2, 2, 99]);
    c.entries.set('src/a.ts', { stamp: '10:123.5', bytes: 10, tokens: 4, ...counted });
    c.entries.set('ünï/b.bin', { stamp: '7:1', skip: 'binary', bytes: 0, tokens: 0, distinct: 0, payload: new Uint8Array(0) });
    c.save(file);
    const back = CountCache.load(file, 'fp', 'rules');
    assert.equal(back.discarded, undefined);
    assert.deepEqual(back.entries.get('src/a.ts')!.stamp, '10:123.5');
    assert.deepEqual([...back.entries.get('src/a.ts')!.payload], [...counted.payload]);
    assert.equal(back.entries.get('ünï/b.bin')!.skip, 'binary');
    assert.ok(back.lookup('src/a.ts', '10:123.5'));
    assert.equal(back.lookup('src/a.ts', '10:124'), undefined);
  });

  it('starts empty, saying why, for another tokenizer, other rules or a damaged file', () => {
    const file = path.join(dir, 'c');
    const c = new CountCache('fp', 'rules');
    c.entries.set('a', { stamp: 's', bytes: 1, tokens: 1, distinct: 1, payload: Uint8Array.from([3, 1]) });
    c.save(file);
    assert.match(CountCache.load(file, 'other-fp', 'rules').discarded!, /another tokenizer \(fp\)/);
    assert.match(CountCache.load(file, 'fp', 'other').discarded!, /other file rules/);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 6] ^= 1;
    fs.writeFileSync(file, bytes);
    const damaged = CountCache.load(file, 'fp', 'rules');
    assert.match(damaged.discarded!, /damaged/);
    assert.equal(damaged.entries.size, 0);
    assert.equal(CountCache.load(path.join(dir, 'none'), 'fp', 'rules').discarded, 'no cache yet');
  });
});
