// The shapes of the models people run for code completion, and the weight types their GGUF files hold, for
// random-weight benchmark models (bench/random-gguf.ts). Hyper-parameters are those of each model's
// config.json on its model card (Qwen/Qwen2.5-Coder-*-Instruct, meta-llama/Llama-3.2-*,
// deepseek-ai/deepseek-coder-1.3b-base) as llama.cpp's convert_hf_to_gguf.py writes them into GGUF.
// The per-tensor types follow llama.cpp's llama-quantize (src/llama-quant.cpp, llama_tensor_get_type).

export type Family = 'qwen2.5' | 'llama3' | 'deepseek-coder';

export interface Shape {
  name: string;
  family: Family;
  /** GGUF architecture (DeepSeek-Coder and Llama-3 are 'llama'). */
  arch: 'qwen2' | 'llama';
  layers: number;
  d: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Rows of the embedding (and LM head): the tokenizer's list is padded to this many entries. */
  vocabRows: number;
  tied: boolean;
  ropeTheta: number;
  normEps: number;
  contextLength: number;
  /** DeepSeek-Coder: linear RoPE scaling factor. */
  ropeLinear?: number;
  /** Llama-3.1/3.2 "llama3" RoPE scaling: written as rope_freqs.weight, as the converter does. */
  llama3Rope?: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalContext: number };
}

const QWEN = { family: 'qwen2.5', arch: 'qwen2', vocabRows: 151936, ropeTheta: 1e6, normEps: 1e-6, contextLength: 32768 } as const;
const LLAMA32 = {
  family: 'llama3', arch: 'llama', vocabRows: 128256, tied: true, ropeTheta: 500000, normEps: 1e-5, contextLength: 131072,
  llama3Rope: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 },
} as const;

export const SHAPES: Shape[] = [
  { ...QWEN, name: 'qwen2.5-coder-0.5b', layers: 24, d: 896, ffn: 4864, heads: 14, kvHeads: 2, headDim: 64, tied: true },
  { ...QWEN, name: 'qwen2.5-coder-1.5b', layers: 28, d: 1536, ffn: 8960, heads: 12, kvHeads: 2, headDim: 128, tied: true },
  { ...QWEN, name: 'qwen2.5-coder-3b', layers: 36, d: 2048, ffn: 11008, heads: 16, kvHeads: 2, headDim: 128, tied: true },
  { ...QWEN, name: 'qwen2.5-coder-7b', layers: 28, d: 3584, ffn: 18944, heads: 28, kvHeads: 4, headDim: 128, vocabRows: 152064, tied: false },
  { ...LLAMA32, name: 'llama-3.2-1b', layers: 16, d: 2048, ffn: 8192, heads: 32, kvHeads: 8, headDim: 64 },
  { ...LLAMA32, name: 'llama-3.2-3b', layers: 28, d: 3072, ffn: 8192, heads: 24, kvHeads: 8, headDim: 128 },
  {
    name: 'deepseek-coder-1.3b', family: 'deepseek-coder', arch: 'llama', layers: 24, d: 2048, ffn: 5504, heads: 16, kvHeads: 16,
    headDim: 128, vocabRows: 32256, tied: false, ropeTheta: 100000, normEps: 1e-6, contextLength: 16384, ropeLinear: 4,
  },
  // Tiny shapes of each family for the tests: the family's real tokenizer and vocabulary rows, 2 layers, and
  // row lengths that are not all multiples of 256 (so the mixes' fallback types occur, as in 0.5B and 1.3B).
  { ...QWEN, name: 'tiny-qwen2.5', layers: 2, d: 256, ffn: 640, heads: 4, kvHeads: 2, headDim: 64, tied: true, contextLength: 4096 },
  { ...LLAMA32, name: 'tiny-llama3', layers: 2, d: 256, ffn: 512, heads: 4, kvHeads: 2, headDim: 64, contextLength: 4096 },
  {
    name: 'tiny-deepseek-coder', family: 'deepseek-coder', arch: 'llama', layers: 2, d: 384, ffn: 512, heads: 3, kvHeads: 3,
    headDim: 128, vocabRows: 32256, tied: false, ropeTheta: 100000, normEps: 1e-6, contextLength: 4096, ropeLinear: 4,
  },
];

export function shapeByName(name: string): Shape {
  const s = SHAPES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown shape '${name}' (${SHAPES.map((x) => x.name).join(', ')})`);
  return s;
}

/** The file types people download, as llama-quantize names them. */
export const FILE_TYPES = ['F16', 'Q8_0', 'Q4_K_M', 'Q5_K_M', 'Q4_0', 'IQ4_XS'] as const;
export type FileType = (typeof FILE_TYPES)[number];
export type TensorType = 'F32' | 'F16' | 'Q4_0' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'IQ4_NL' | 'IQ4_XS';

/** general.file_type (llama_ftype) of each file type. */
export const LLAMA_FTYPE: Record<FileType, number> = { F16: 1, Q8_0: 7, Q4_0: 2, Q4_K_M: 15, Q5_K_M: 17, IQ4_XS: 30 };

/** llama.cpp's use_more_bits: the first and last eighth of the layers and every third layer between. */
export function useMoreBits(layer: number, layers: number): boolean {
  const e = Math.floor(layers / 8);
  return layer < e || layer >= Math.floor((7 * layers) / 8) || (layer - e) % 3 === 2;
}

/**
 * The type llama-quantize gives a weight matrix with rows of `cols` values (F16: what convert_hf_to_gguf.py
 * writes). The LM head, or a tied embedding that serves as one, is Q6_K (Q8_0 for Q8_0 files); an untied
 * embedding keeps the base type; Q4_K_M/Q5_K_M give attn_v and ffn_down Q6_K where useMoreBits says so.
 * IQ4_XS (without an importance matrix): attn_v Q5_K when 4 or more query heads share a KV head (gqa), ffn_down
 * Q5_K in the first eighth of the layers. Rows that are not a multiple of 256 fall back: Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL.
 */
export function tensorType(file: FileType, name: string, cols: number, layer: number, layers: number, tied: boolean, gqa = 1): TensorType {
  if (file === 'F16') return 'F16';
  if (file === 'Q8_0') return 'Q8_0';
  const base: TensorType = file === 'Q4_0' ? 'Q4_0' : file === 'Q4_K_M' ? 'Q4_K' : file === 'IQ4_XS' ? 'IQ4_XS' : 'Q5_K';
  let t: TensorType = base;
  const isHead = name === 'output.weight' || (tied && name === 'token_embd.weight');
  if (isHead) t = 'Q6_K';
  else if ((file === 'Q4_K_M' || file === 'Q5_K_M') && /\.(attn_v|ffn_down)\.weight$/.test(name) && useMoreBits(layer, layers)) t = 'Q6_K';
  else if (file === 'IQ4_XS' && /\.attn_v\.weight$/.test(name) && gqa >= 4) t = 'Q5_K';
  else if (file === 'IQ4_XS' && /\.ffn_down\.weight$/.test(name) && layer < Math.floor(layers / 8)) t = 'Q5_K';
  if (cols % 256 !== 0) t = ({ Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0', IQ4_XS: 'IQ4_NL' } as Partial<Record<TensorType, TensorType>>)[t] ?? t;
  return t;
}

/** Bytes per block and values per block of each tensor type (ggml's layouts). */
export const BLOCK: Record<TensorType, { bytes: number; values: number }> = {
  F32: { bytes: 4, values: 1 }, F16: { bytes: 2, values: 1 }, Q4_0: { bytes: 18, values: 32 }, Q5_0: { bytes: 22, values: 32 },
  Q5_1: { bytes: 24, values: 32 }, Q8_0: { bytes: 34, values: 32 }, Q4_K: { bytes: 144, values: 256 }, Q5_K: { bytes: 176, values: 256 },
  Q6_K: { bytes: 210, values: 256 }, IQ4_NL: { bytes: 18, values: 32 }, IQ4_XS: { bytes: 136, values: 256 },
};
