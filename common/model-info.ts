// What a person needs to choose a model: the name they know it by (Ollama's `qwen2.5-coder:1.5b`, LM Studio's
// publisher/model), architecture, parameter count, quantization and size from the GGUF header (no load), whether
// it is an instruct/chat model (poor at completing code), and the draft model that pairs with it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type GgufHeader, readGgufHeader, tokenizerFingerprint } from './gguf-header';

export interface ModelInfo {
  path: string;
  bytes: number;
  /** The name the user knows: Ollama manifest name, LM Studio publisher/model, else the file name. */
  name: string;
  source: string;
  architecture?: string;
  /** general.name, when set. */
  generalName?: string;
  parameters?: number;
  quantization?: string;
  fingerprint?: string;
  /** Instruct/chat tuned (name or general.name says so): such models complete code poorly. */
  instruct: boolean;
  /** Why the header could not be read, when it could not. */
  error?: string;
}

/** llama.cpp's llama_ftype (general.file_type). */
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0',
};
/** ggml_type ids, for files without general.file_type. */
const TENSOR_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL',
  21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0',
};

/** The quantization: general.file_type, else the type holding most of the 2-D weights. */
export function quantizationOf(h: GgufHeader): string | undefined {
  const ft = h.metadata.get('general.file_type');
  if (typeof ft === 'number' && FILE_TYPES[ft]) return FILE_TYPES[ft];
  const byType = new Map<number, number>();
  for (const t of h.tensors) if (t.elements >= 4096) byType.set(t.type, (byType.get(t.type) ?? 0) + t.elements);
  const top = [...byType].sort((a, b) => b[1] - a[1])[0];
  return top ? TENSOR_TYPES[top[0]] ?? `type ${top[0]}` : undefined;
}

const INSTRUCT = /(instruct|chat|[-_.]it\b|[-_.]it[-_.])/i;

/** Whether a model name says it was tuned for instructions or chat. */
export function looksInstruct(...names: Array<string | undefined>): boolean {
  return names.some((n) => !!n && INSTRUCT.test(n));
}

/** "1.5B", "494M": a parameter count as people write it. */
export function formatParameters(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B` : `${Math.round(n / 1e6)}M`;
}

const cache = new Map<string, { key: string; info: Omit<ModelInfo, 'name' | 'source' | 'path'> }>();

/** Describes a model from its header (cached by path, size and mtime). */
export function describeModel(file: string, name = path.basename(file), source = 'file'): ModelInfo {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch (e) { return { path: file, bytes: 0, name, source, instruct: looksInstruct(name), error: (e as Error).message }; }
  const key = `${st.size}:${st.mtimeMs}`;
  let hit = cache.get(file);
  if (!hit || hit.key !== key) {
    let info: Omit<ModelInfo, 'name' | 'source' | 'path'>;
    try {
      const h = readGgufHeader(file);
      const arch = h.metadata.get('general.architecture');
      const gname = h.metadata.get('general.name');
      info = {
        bytes: st.size,
        architecture: typeof arch === 'string' ? arch : undefined,
        generalName: typeof gname === 'string' ? gname : undefined,
        parameters: h.tensors.reduce((s, t) => s + t.elements, 0) || undefined,
        quantization: quantizationOf(h),
        fingerprint: tokenizerFingerprint(h),
        instruct: false,
      };
    } catch (e) {
      info = { bytes: st.size, instruct: false, error: (e as Error).message };
    }
    hit = { key, info };
    cache.set(file, hit);
  }
  return { ...hit.info, path: file, name, source, instruct: looksInstruct(name, path.basename(file), hit.info.generalName) };
}

export interface DraftPairing { draft?: ModelInfo; reason: string }

/**
 * The draft model for a target: among the candidates with the target's tokenizer fingerprint (same token ids,
 * which speculative decoding needs), at most a third of its size (a bigger draft costs more than it saves), the
 * smallest. The reason says which rule chose it, or why none qualified.
 */
export function pairDraftModel(target: ModelInfo, candidates: ModelInfo[]): DraftPairing {
  if (!target.fingerprint) return { reason: `${target.name}: its tokenizer could not be read, so no draft model can be paired` };
  const same = candidates.filter((c) => c.path !== target.path && c.fingerprint === target.fingerprint);
  // "Size" is the parameter count when both headers give it (bytes mislead across quantizations: a Q8_0 0.5B
  // is over a third of a Q4_K_M 1.5B's bytes), else the file size.
  const size = (m: ModelInfo) => (m.parameters && target.parameters ? m.parameters : m.bytes);
  const small = same.filter((c) => size(c) * 3 <= size(target)).sort((a, b) => size(a) - size(b) || a.bytes - b.bytes);
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  if (small.length > 0) {
    const d = small[0];
    return {
      draft: d,
      reason: `${d.name} (${gb(d.bytes)}) drafts for ${target.name} (${gb(target.bytes)}): same tokenizer (fingerprint ${target.fingerprint.slice(0, 12)}…), ` +
        `${(size(target) / size(d)).toFixed(1)}x fewer ${size(d) === d.bytes ? 'bytes' : 'parameters'}, the smallest of ${small.length} such model${small.length > 1 ? 's' : ''}`,
    };
  }
  if (same.length > 0) return { reason: `${same.length} model(s) share ${target.name}'s tokenizer but none is at most a third of its size: no draft model (plain decoding)` };
  return { reason: `no other model on this machine shares ${target.name}'s tokenizer: no draft model (plain decoding)` };
}
