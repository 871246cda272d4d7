// Random-weight model fixtures: small GGUF files of every weight type, qwen2 and llama architectures,
// tied and untied LM heads, written with the test GGUF writer and quantized with the native reference
// quantizers (native/quant.ts). Seeded, so every run builds the same files. No download needed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantize } from '../../native/quant';
import { f32Bytes, GGML_TYPE_IDS, type GgufMeta, type GgufTensorSpec, writeGguf } from './gguf-writer';

export type MatrixType = 'F32' | 'F16' | 'BF16' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';
/** A matrix type, or a llama.cpp-style mix of them. */
export type WeightType = MatrixType | 'Q4_K_M' | 'Q5_K_M';

export interface FixtureSpec {
  arch: 'qwen2' | 'llama';
  /**
   * Type of the matrices. The mixes put Q6_K in attn_v, ffn_down, the embedding and the LM head and Q4_K (Q4_K_M) or
   * Q5_K (Q5_K_M) elsewhere, and, as llama-quantize does, store a matrix whose rows are not a multiple of 256 in
   * the fallback type (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0: Qwen2.5-Coder-0.5B's d = 896 gets Q5_0 and Q8_0).
   */
  type: WeightType;
  tied: boolean;
  seed?: number;
  d?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  ff?: number;
  vocab?: number;
  /** llama: write Llama-3.1 style rope_freqs divisors. */
  ropeFreqs?: boolean;
  /** llama: linear RoPE scaling factor (DeepSeek-Coder style). */
  ropeLinear?: number;
  /** Extra metadata or tensors, to build broken files for error tests. */
  extraMeta?: GgufMeta[];
  mutate?: (tensors: GgufTensorSpec[]) => void;
}

/** A deterministic PRNG (mulberry32) with a Gaussian helper. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, gauss };
}

/** n token ids in [0, vocab), from a seed. */
export function randomTokens(n: number, vocab: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r.next() * vocab));
}

/** The type a matrix `name` with rows of `cols` values gets in `type` (a mix: see FixtureSpec.type). */
export function mixMatrixType(type: WeightType, name: string, cols: number): MatrixType {
  if (type !== 'Q4_K_M' && type !== 'Q5_K_M') return type;
  const t = /attn_v|ffn_down|output\.weight|token_embd/.test(name) ? 'Q6_K' : type === 'Q4_K_M' ? 'Q4_K' : 'Q5_K';
  const FALLBACK: Partial<Record<MatrixType, MatrixType>> = { Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };
  return cols % 256 === 0 ? t : FALLBACK[t]!;
}

/** Encodes rows x cols F32 values as a ggml type. */
export function encodeMatrix(type: MatrixType, values: Float32Array, cols: number): Uint8Array {
  if (type === 'F32') return f32Bytes(values);
  const buf = quantize(type, values, cols);  // the native reference conversions (round to nearest even)
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Builds the GGUF image of a fixture model. */
export function buildFixture(spec: FixtureSpec): { metadata: GgufMeta[]; tensors: GgufTensorSpec[] } {
  const { arch, type, tied } = spec;
  const d = spec.d ?? 256, L = spec.layers ?? 2, nh = spec.heads ?? 4, nkv = spec.kvHeads ?? 2;
  const ff = spec.ff ?? 512, vocab = spec.vocab ?? 320, hd = d / nh;
  const r = rng(spec.seed ?? 1);
  const tensors: GgufTensorSpec[] = [];
  const matrixType = (name: string, cols: number) => mixMatrixType(type, name, cols);
  const matrix = (name: string, rows: number, cols: number, scale = 1 / Math.sqrt(cols)) => {
    const v = new Float32Array(rows * cols);
    for (let i = 0; i < v.length; i++) v[i] = r.gauss() * scale;
    const t = matrixType(name, cols);
    tensors.push({ name, shape: [cols, rows], type: GGML_TYPE_IDS[t], data: encodeMatrix(t, v, cols) });
  };
  const vector = (name: string, n: number, mean: number, sd: number) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = mean + sd * r.gauss();
    tensors.push({ name, shape: [n], type: GGML_TYPE_IDS.F32, data: f32Bytes(v) });
  };
  matrix('token_embd.weight', vocab, d, 1);
  for (let l = 0; l < L; l++) {
    const p = `blk.${l}.`;
    vector(p + 'attn_norm.weight', d, 1, 0.1);
    matrix(p + 'attn_q.weight', nh * hd, d);
    matrix(p + 'attn_k.weight', nkv * hd, d);
    matrix(p + 'attn_v.weight', nkv * hd, d);
    if (arch === 'qwen2') {
      vector(p + 'attn_q.bias', nh * hd, 0, 0.2);
      vector(p + 'attn_k.bias', nkv * hd, 0, 0.2);
      vector(p + 'attn_v.bias', nkv * hd, 0, 0.2);
    }
    matrix(p + 'attn_output.weight', d, nh * hd);
    vector(p + 'ffn_norm.weight', d, 1, 0.1);
    matrix(p + 'ffn_gate.weight', ff, d);
    matrix(p + 'ffn_up.weight', ff, d);
    matrix(p + 'ffn_down.weight', d, ff);
  }
  vector('output_norm.weight', d, 1, 0.1);
  if (!tied) matrix('output.weight', vocab, d);
  if (spec.ropeFreqs) {
    // Llama-3.1's shape: high frequencies untouched, low ones divided by up to 8, a smooth band between.
    const v = new Float32Array(hd / 2).map((_, i) => (i < hd / 8 ? 1 : i < hd / 4 ? 1 + (7 * (i - hd / 8)) / (hd / 8) : 8));
    tensors.push({ name: 'rope_freqs.weight', shape: [hd / 2], type: GGML_TYPE_IDS.F32, data: f32Bytes(v) });
  }
  spec.mutate?.(tensors);

  const metadata: GgufMeta[] = [
    { key: 'general.architecture', type: 'string', value: arch },
    { key: 'general.name', type: 'string', value: `fixture-${arch}-${type}-${tied ? 'tied' : 'untied'}` },
    { key: `${arch}.context_length`, type: 'u32', value: 2048 },
    { key: `${arch}.embedding_length`, type: 'u32', value: d },
    { key: `${arch}.block_count`, type: 'u32', value: L },
    { key: `${arch}.feed_forward_length`, type: 'u32', value: ff },
    { key: `${arch}.attention.head_count`, type: 'u32', value: nh },
    { key: `${arch}.attention.head_count_kv`, type: 'u32', value: nkv },
    { key: `${arch}.rope.freq_base`, type: 'f32', value: arch === 'llama' ? 500000 : 10000 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, type: 'f32', value: 1e-5 },
  ];
  if (spec.ropeLinear) {
    metadata.push({ key: `${arch}.rope.scaling.type`, type: 'string', value: 'linear' });
    metadata.push({ key: `${arch}.rope.scaling.factor`, type: 'f32', value: spec.ropeLinear });
  }
  metadata.push(...(spec.extraMeta ?? []));
  return { metadata, tensors };
}

let fixtureDir: string | undefined;

/** Writes the fixture to a temporary folder (once per process and name) and returns its path. */
export function fixtureFile(name: string, spec: FixtureSpec): string {
  fixtureDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-fixtures-'));
  const file = path.join(fixtureDir, `${name}.gguf`);
  if (!fs.existsSync(file)) writeGguf(file, buildFixture(spec));
  return file;
}

/** Removes the temporary fixture folder (call from a root after() hook). */
export function removeFixtures(): void {
  if (fixtureDir) fs.rmSync(fixtureDir, { recursive: true, force: true });
  fixtureDir = undefined;
}
