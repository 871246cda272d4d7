// A small GGUF v3 writer for test fixtures: metadata of every type (arrays included) and tensors given
// as raw bytes of any ggml type (F32/F16 conversion and quantization happen in the caller). Written from
// the GGUF specification, independently of the native reader it tests.
import * as fs from 'node:fs';

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export const GGUF_TYPE_IDS: Record<GgufScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};
/** ggml tensor type ids. */
export const GGML_TYPE_IDS = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPE_IDS;

export type GgufMeta =
  | { key: string; type: GgufScalarType; value: number | bigint | boolean | string }
  | { key: string; type: 'array'; elementType: GgufScalarType; value: Array<number | bigint | boolean | string> };

export interface GgufTensorSpec {
  name: string;
  /** ggml order: shape[0] is the row length. */
  shape: number[];
  type: number;  // ggml type id
  data: Uint8Array;
}

class Bytes {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer) { this.chunks.push(b); this.length += b.length; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(type: GgufScalarType, v: number | bigint | boolean | string) {
    const b = Buffer.alloc(8);
    switch (type) {
      case 'u8': b.writeUInt8(Number(v)); this.push(b.subarray(0, 1)); break;
      case 'i8': b.writeInt8(Number(v)); this.push(b.subarray(0, 1)); break;
      case 'bool': b.writeUInt8(v ? 1 : 0); this.push(b.subarray(0, 1)); break;
      case 'u16': b.writeUInt16LE(Number(v)); this.push(b.subarray(0, 2)); break;
      case 'i16': b.writeInt16LE(Number(v)); this.push(b.subarray(0, 2)); break;
      case 'u32': b.writeUInt32LE(Number(v)); this.push(b.subarray(0, 4)); break;
      case 'i32': b.writeInt32LE(Number(v)); this.push(b.subarray(0, 4)); break;
      case 'f32': b.writeFloatLE(Number(v)); this.push(b.subarray(0, 4)); break;
      case 'u64': b.writeBigUInt64LE(BigInt(v)); this.push(b); break;
      case 'i64': b.writeBigInt64LE(BigInt(v)); this.push(b); break;
      case 'f64': b.writeDoubleLE(Number(v)); this.push(b); break;
      case 'string': this.str(String(v)); break;
    }
  }
  concat() { return Buffer.concat(this.chunks); }
}

/** Serializes a GGUF v3 image. */
export function buildGguf(opts: { metadata: GgufMeta[]; tensors?: GgufTensorSpec[]; alignment?: number }): Buffer {
  const alignment = opts.alignment ?? 32;
  const tensors = opts.tensors ?? [];
  const metadata = [...opts.metadata];
  if (opts.alignment !== undefined && !metadata.some((m) => m.key === 'general.alignment')) {
    metadata.push({ key: 'general.alignment', type: 'u32', value: alignment });
  }
  const h = new Bytes();
  h.u32(0x46554747);  // "GGUF"
  h.u32(3);
  h.u64(tensors.length);
  h.u64(metadata.length);
  for (const m of metadata) {
    h.str(m.key);
    h.u32(GGUF_TYPE_IDS[m.type]);
    if (m.type === 'array') {
      h.u32(GGUF_TYPE_IDS[m.elementType]);
      h.u64(m.value.length);
      for (const v of m.value) h.scalar(m.elementType, v);
    } else {
      h.scalar(m.type, m.value);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  tensors.forEach((t, i) => {
    h.str(t.name);
    h.u32(t.shape.length);
    for (const d of t.shape) h.u64(d);
    h.u32(t.type);
    h.u64(offsets[i]);
  });
  const header = h.concat();
  const dataStart = Math.ceil(header.length / alignment) * alignment;
  const out = Buffer.alloc(dataStart + offset);
  header.copy(out, 0);
  tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]));
  return out;
}

export function writeGguf(file: string, opts: Parameters<typeof buildGguf>[0]): void {
  fs.writeFileSync(file, buildGguf(opts));
}

/** F32 array → little-endian bytes. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const a = Float32Array.from(values as ArrayLike<number>);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** IEEE half-precision rounding (round to nearest even), as numpy/ggml do. */
export function toF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  let exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function f16Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toF16Bits(values[i]);
  return new Uint8Array(out.buffer);
}
