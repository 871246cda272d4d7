// A straightforward float64 transformer in TypeScript, kept only for tests: it reads a GGUF file itself
// (tensor bytes through reference-dequant.ts) and computes logits the plainest way, so the native engine
// can be checked against math that shares none of its code. Supports what the engine supports: qwen2
// (NEOX RoPE, Q/K/V biases) and llama (adjacent-pair RoPE, optional rope_freqs, linear RoPE scaling),
// GQA, tied or separate LM head.
import * as fs from 'node:fs';
import { openGguf } from '../../native/gguf';
import { BLOCK, dequantize } from './reference-dequant';

type Mat = { rows: number; cols: number; w: Float64Array };

export class ReferenceModel {
  readonly arch: string;
  readonly d: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKv: number;
  readonly hd: number;
  readonly ff: number;
  readonly eps: number;
  readonly theta: number;
  readonly ropeScale: number;
  readonly nVocab: number;
  private readonly file: Buffer;
  private readonly dataOffset: number;
  private readonly tensors = new Map<string, { type: number; shape: number[]; offset: number }>();
  private readonly cache = new Map<string, Mat>();

  constructor(path: string) {
    const g = openGguf(path);
    this.file = fs.readFileSync(path);
    this.dataOffset = g.dataOffset;
    const TYPES: Record<string, number> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 };
    for (const t of g.tensors()) this.tensors.set(t.name, { type: TYPES[t.type], shape: t.shape, offset: t.offset });
    const a = String(g.get('general.architecture'));
    const num = (k: string, def?: number) => {
      const v = g.get(`${a}.${k}`);
      if (v === undefined && def !== undefined) return def;
      return Number(v);
    };
    this.arch = a;
    this.d = num('embedding_length');
    this.nLayers = num('block_count');
    this.nHeads = num('attention.head_count');
    this.nKv = num('attention.head_count_kv', this.nHeads);
    this.hd = num('attention.key_length', this.d / this.nHeads);
    this.ff = num('feed_forward_length');
    this.eps = num('attention.layer_norm_rms_epsilon', 1e-6);
    this.theta = num('rope.freq_base', 10000);
    this.ropeScale = g.get(`${a}.rope.scaling.type`) === 'linear' ? num('rope.scaling.factor') : 1;
    this.nVocab = this.tensors.get('token_embd.weight')!.shape[1];
  }

  has(name: string): boolean { return this.tensors.has(name); }

  /** The tensor as float64, rows x cols (vectors: 1 x n). */
  mat(name: string): Mat {
    let m = this.cache.get(name);
    if (m) return m;
    const t = this.tensors.get(name);
    if (!t) throw new Error(`reference: no tensor ${name}`);
    const cols = t.shape[0], rows = t.shape.slice(1).reduce((p, x) => p * x, 1);
    const b = BLOCK[t.type];
    const bytes = (cols / b.elems) * b.bytes * rows;
    const start = this.dataOffset + t.offset;
    m = { rows, cols, w: dequantize(t.type, this.file.subarray(start, start + bytes), rows * cols) };
    this.cache.set(name, m);
    return m;
  }

  /** Logits (float64) of every position of a causal sequence starting at position 0. */
  forward(tokens: number[], opts: { lastOnly?: boolean } = {}): Float64Array[] {
    const { d, hd, nHeads, nKv } = this;
    const n = tokens.length;
    const emb = this.mat('token_embd.weight');
    let x: Float64Array[] = tokens.map((t) => emb.w.slice(t * d, (t + 1) * d));
    for (let l = 0; l < this.nLayers; l++) {
      const p = `blk.${l}.`;
      const h = x.map((r) => this.rmsNorm(r, this.mat(p + 'attn_norm.weight').w));
      const q = h.map((r, i) => this.rope(this.linear(p + 'attn_q', r), nHeads, i));
      const k = h.map((r, i) => this.rope(this.linear(p + 'attn_k', r), nKv, i));
      const v = h.map((r) => this.linear(p + 'attn_v', r));
      const att = q.map((qi, i) => {
        const out = new Float64Array(nHeads * hd);
        for (let hh = 0; hh < nHeads; hh++) {
          const g = Math.floor(hh / (nHeads / nKv));
          const s: number[] = [];
          for (let j = 0; j <= i; j++) {
            let dot = 0;
            for (let c = 0; c < hd; c++) dot += qi[hh * hd + c] * k[j][g * hd + c];
            s.push(dot / Math.sqrt(hd));
          }
          const m = Math.max(...s);
          const e = s.map((z) => Math.exp(z - m));
          const sum = e.reduce((a, b) => a + b, 0);
          for (let j = 0; j <= i; j++)
            for (let c = 0; c < hd; c++) out[hh * hd + c] += (e[j] / sum) * v[j][g * hd + c];
        }
        return out;
      });
      x = x.map((r, i) => add(r, this.linear(p + 'attn_output', att[i])));
      const h2 = x.map((r) => this.rmsNorm(r, this.mat(p + 'ffn_norm.weight').w));
      x = x.map((r, i) => {
        const gate = this.linear(p + 'ffn_gate', h2[i]), up = this.linear(p + 'ffn_up', h2[i]);
        const a = gate.map((g, j) => (g / (1 + Math.exp(-g))) * up[j]);
        return add(r, this.linear(p + 'ffn_down', a));
      });
    }
    const head = this.has('output.weight') ? 'output' : 'token_embd';
    const rows = opts.lastOnly ? [n - 1] : [...Array(n).keys()];
    return rows.map((i) => this.linear(head, this.rmsNorm(x[i], this.mat('output_norm.weight').w), false));
  }

  private linear(prefix: string, x: Float64Array, bias = true): Float64Array {
    const m = this.mat(prefix + '.weight');
    const y = new Float64Array(m.rows);
    for (let r = 0; r < m.rows; r++) {
      let s = 0;
      const o = r * m.cols;
      for (let c = 0; c < m.cols; c++) s += m.w[o + c] * x[c];
      y[r] = s;
    }
    if (bias && this.has(prefix + '.bias')) {
      const b = this.mat(prefix + '.bias').w;
      for (let r = 0; r < m.rows; r++) y[r] += b[r];
    }
    return y;
  }

  private rmsNorm(x: Float64Array, w: Float64Array): Float64Array {
    let ss = 0;
    for (const v of x) ss += v * v;
    const s = 1 / Math.sqrt(ss / x.length + this.eps);
    return x.map((v, i) => v * s * w[i]);
  }

  /**
   * RoPE at position `pos` the way Hugging Face models apply it: rotate-half pairs (i, i + hd/2). A llama
   * GGUF stores Q/K rows permuted by llama.cpp's converter (HF row i -> 2i, row i + hd/2 -> 2i + 1), so
   * its heads are first put back in HF order; q and k get the same order, so attention is unchanged.
   */
  private rope(x: Float64Array, heads: number, pos: number): Float64Array {
    const hd = this.hd, half = hd / 2;
    const ff = this.has('rope_freqs.weight') ? this.mat('rope_freqs.weight').w : undefined;
    const out = new Float64Array(x.length);
    for (let h = 0; h < heads; h++) {
      const v = x.subarray(h * hd, (h + 1) * hd);
      const hf = this.arch === 'llama' ? v.map((_, i) => (i < half ? v[2 * i] : v[2 * (i - half) + 1])) : v;
      for (let i = 0; i < half; i++) {
        const t = ((pos / this.ropeScale) * this.theta ** ((-2 * i) / hd)) / (ff ? ff[i] : 1);
        out[h * hd + i] = hf[i] * Math.cos(t) - hf[i + half] * Math.sin(t);
        out[h * hd + i + half] = hf[i + half] * Math.cos(t) + hf[i] * Math.sin(t);
      }
    }
    return out;
  }
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}
