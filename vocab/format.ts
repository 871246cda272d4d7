// The .frv file: a frequency-ranked draft vocabulary, documented byte by byte in docs/vocab-format.md.
// Little-endian, fixed 64-byte header, three length-prefixed strings, ids (u32), counts (u64), CRC-32.
// Readers refuse damaged files and files made for another tokenizer with a message naming both.
import * as zlib from 'node:zlib';
import { readRegularFile, writeFileAtomic } from '../common/safe-fs';

export const FRV_MAGIC = 'FRVOCAB\0';
export const FRV_VERSION = 1;
const FIXED_HEADER = 64;

export interface CorpusStats {
  files: number;
  bytes: number;
  tokens: number;
}

export interface VocabFile {
  /** Tokenizer fingerprint and pre-tokenizer name of the model whose tokenizer counted the corpus. */
  fingerprint: string;
  pre: string;
  /** Number of token ids of that tokenizer; every ranked id is below it. */
  vocabSize: number;
  /** What was counted (a folder or corpus path, as given to the builder). */
  source: string;
  corpus: CorpusStats;
  /** Milliseconds since the Unix epoch (UTC). */
  createdAt: number;
  /** Ranked ids: the first `forced` are the specials, then by count descending, ties by id ascending. */
  ids: Uint32Array;
  counts: Float64Array;
  forced: number;
}

const align8 = (n: number) => (n + 7) & ~7;

function headerBytes(v: VocabFile): number {
  return align8(FIXED_HEADER + [v.fingerprint, v.pre, v.source].reduce((s, x) => s + 4 + Buffer.byteLength(x), 0));
}

export function encodeVocab(v: VocabFile): Buffer {
  const n = v.ids.length;
  const h = headerBytes(v);
  const countsAt = h + align8(4 * n);
  const buf = Buffer.alloc(countsAt + 8 * n + 4);
  buf.write(FRV_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(FRV_VERSION, 8);
  buf.writeUInt32LE(h, 12);
  buf.writeUInt32LE(v.vocabSize, 16);
  buf.writeUInt32LE(n, 20);
  buf.writeUInt32LE(v.forced, 24);
  buf.writeUInt32LE(0, 28);
  buf.writeBigUInt64LE(BigInt(v.corpus.files), 32);
  buf.writeBigUInt64LE(BigInt(v.corpus.bytes), 40);
  buf.writeBigUInt64LE(BigInt(v.corpus.tokens), 48);
  buf.writeBigUInt64LE(BigInt(v.createdAt), 56);
  let at = FIXED_HEADER;
  for (const s of [v.fingerprint, v.pre, v.source]) {
    const len = buf.write(s, at + 4, 'utf8');
    buf.writeUInt32LE(len, at);
    at += 4 + len;
  }
  for (let i = 0; i < n; i++) buf.writeUInt32LE(v.ids[i], h + 4 * i);
  for (let i = 0; i < n; i++) buf.writeBigUInt64LE(BigInt(v.counts[i]), countsAt + 8 * i);
  buf.writeUInt32LE(zlib.crc32(buf.subarray(0, buf.length - 4)), buf.length - 4);
  return buf;
}

/** Parses and validates a .frv image; every refusal names the file, the offset and what was expected. */
export function decodeVocab(buf: Buffer, file: string): VocabFile {
  const fail = (offset: number, what: string): never => { throw new Error(`${file}: offset ${offset}: ${what}`); };
  if (buf.length < FIXED_HEADER + 4) fail(0, `truncated: ${buf.length} bytes, a vocabulary file has at least ${FIXED_HEADER + 4}`);
  if (buf.toString('latin1', 0, 8) !== FRV_MAGIC) fail(0, 'not a vocabulary file (expected magic "FRVOCAB\\0")');
  const version = buf.readUInt32LE(8);
  if (version !== FRV_VERSION) fail(8, `unsupported version ${version} (this build reads version ${FRV_VERSION})`);
  const h = buf.readUInt32LE(12);
  const vocabSize = buf.readUInt32LE(16);
  const n = buf.readUInt32LE(20);
  const forced = buf.readUInt32LE(24);
  if (h < FIXED_HEADER || h % 8 !== 0) fail(12, `header size ${h} must be a multiple of 8 and at least ${FIXED_HEADER}`);
  const countsAt = h + align8(4 * n);
  const expectedSize = countsAt + 8 * n + 4;
  if (buf.length !== expectedSize) {
    fail(buf.length < expectedSize ? buf.length : expectedSize, `${buf.length < expectedSize ? 'truncated' : 'trailing bytes'}: header says ${n} ids, so the file must be ${expectedSize} bytes, found ${buf.length}`);
  }
  const crc = zlib.crc32(buf.subarray(0, buf.length - 4));
  if (crc !== buf.readUInt32LE(buf.length - 4)) fail(buf.length - 4, `checksum mismatch (stored ${buf.readUInt32LE(buf.length - 4).toString(16)}, computed ${crc.toString(16)}): the file is damaged`);
  if (forced > n) fail(24, `${forced} forced ids but only ${n} ids`);
  const u64 = (at: number): number => {
    const v = buf.readBigUInt64LE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(at, `value ${v} is too large`);
    return Number(v);
  };
  const corpus = { files: u64(32), bytes: u64(40), tokens: u64(48) };
  const createdAt = u64(56);
  let at = FIXED_HEADER;
  const str = (name: string): string => {
    if (at + 4 > h) fail(at, `the ${name} string runs past the header (${h} bytes)`);
    const len = buf.readUInt32LE(at);
    if (at + 4 + len > h) fail(at, `the ${name} string (${len} bytes) runs past the header (${h} bytes)`);
    const s = buf.toString('utf8', at + 4, at + 4 + len);
    at += 4 + len;
    return s;
  };
  const fingerprint = str('fingerprint');
  const pre = str('pre-tokenizer');
  const source = str('source');
  const ids = new Uint32Array(n);
  const counts = new Float64Array(n);
  const seen = new Uint8Array(vocabSize);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const id = buf.readUInt32LE(h + 4 * i);
    if (id >= vocabSize) fail(h + 4 * i, `id ${id} is outside the vocabulary (size ${vocabSize})`);
    if (seen[id]) fail(h + 4 * i, `id ${id} appears twice`);
    seen[id] = 1;
    ids[i] = id;
    counts[i] = u64(countsAt + 8 * i);
    sum += counts[i];
    if (i > forced && (counts[i] > counts[i - 1] || (counts[i] === counts[i - 1] && id < ids[i - 1]))) {
      fail(h + 4 * i, `ids are not ranked (entry ${i}: id ${id} count ${counts[i]} after id ${ids[i - 1]} count ${counts[i - 1]})`);
    }
  }
  if (sum !== corpus.tokens) fail(48, `the counts add up to ${sum} but the header says ${corpus.tokens} tokens`);
  return { fingerprint, pre, vocabSize, source, corpus, createdAt, ids, counts, forced };
}

export function writeVocab(file: string, v: VocabFile): void {
  writeFileAtomic(file, encodeVocab(v), 'vocabulary file');
}

/** The largest .frv file read (about 5 million ids; a real tokenizer has at most a few hundred thousand). */
export const MAX_VOCAB_FILE_BYTES = 64 << 20;

/** What a model's tokenizer looks like, for checking that a vocabulary file belongs to it. */
export interface TokenizerIdentity {
  fingerprint: string;
  pre: string;
  vocabSize: number;
}

/** Reads a .frv file; with `model`, refuses a file counted with another tokenizer (naming both). */
export function readVocab(file: string, model?: { name: string; tokenizer: TokenizerIdentity }): VocabFile {
  const buf = readRegularFile(file, { maxBytes: MAX_VOCAB_FILE_BYTES, what: 'vocabulary file (.frv)' });
  const v = decodeVocab(buf, file);
  if (model) checkTokenizer(v, file, model.name, model.tokenizer);
  return v;
}

export function checkTokenizer(v: VocabFile, file: string, modelName: string, t: TokenizerIdentity): void {
  if (v.fingerprint === t.fingerprint && v.vocabSize === t.vocabSize) return;
  throw new Error(
    `${file} was built for tokenizer ${v.fingerprint} (pre-tokenizer ${v.pre}, ${v.vocabSize} tokens), ` +
      `but ${modelName} has tokenizer ${t.fingerprint} (pre-tokenizer ${t.pre}, ${t.vocabSize} tokens); ` +
      `rebuild it with: frspec vocab build --model ${modelName} ...`,
  );
}
