// Dequantization of ggml tensor data in plain TypeScript, written from ggml's block layouts
// independently of the native kernels (quant.cpp), so tests can check the engine against it.
// Returns float64 values (the exact value of each stored number).
export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 } as const;

export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

let f16Table: Float64Array | undefined;
const f16Fast = (h: number) => (f16Table ??= Float64Array.from({ length: 65536 }, (_, i) => f16ToNumber(i)))[h];

const bf16ToNumber = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0];

/** Block size in elements and bytes of each supported type. */
export const BLOCK: Record<number, { elems: number; bytes: number }> = {
  [GGML.F32]: { elems: 1, bytes: 4 },
  [GGML.F16]: { elems: 1, bytes: 2 },
  [GGML.BF16]: { elems: 1, bytes: 2 },
  [GGML.Q4_0]: { elems: 32, bytes: 18 },
  [GGML.Q4_1]: { elems: 32, bytes: 20 },
  [GGML.Q5_0]: { elems: 32, bytes: 22 },
  [GGML.Q5_1]: { elems: 32, bytes: 24 },
  [GGML.Q8_0]: { elems: 32, bytes: 34 },
  [GGML.Q4_K]: { elems: 256, bytes: 144 },
  [GGML.Q5_K]: { elems: 256, bytes: 176 },
  [GGML.Q6_K]: { elems: 256, bytes: 210 },
};

/** Dequantizes `count` elements of type `type` stored in `data`. */
export function dequantize(type: number, data: Uint8Array, count: number): Float64Array {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float64Array(count);
  const f16 = (o: number) => f16Fast(v.getUint16(o, true));
  switch (type) {
    case GGML.F32:
      for (let i = 0; i < count; i++) out[i] = v.getFloat32(4 * i, true);
      return out;
    case GGML.F16:
      for (let i = 0; i < count; i++) out[i] = f16(2 * i);
      return out;
    case GGML.BF16:
      for (let i = 0; i < count; i++) out[i] = bf16ToNumber(v.getUint16(2 * i, true));
      return out;
    case GGML.Q4_0:  // { f16 d; u8 qs[16] }: x = d * (q - 8); value j in the low nibble of qs[j], j + 16 in the high one
    case GGML.Q4_1:  // { f16 d, m; u8 qs[16] }: x = d * q + m
    case GGML.Q5_0:  // { f16 d; u8 qh[4]; u8 qs[16] }: x = d * (q - 16); bit 4 of value j is bit j of qh (little endian)
    case GGML.Q5_1: {  // { f16 d, m; u8 qh[4]; u8 qs[16] }: x = d * q + m
      const hasMin = type === GGML.Q4_1 || type === GGML.Q5_1, fiveBit = type === GGML.Q5_0 || type === GGML.Q5_1;
      const bytes = BLOCK[type].bytes, qsAt = (hasMin ? 4 : 2) + (fiveBit ? 4 : 0);
      for (let b = 0; b < count / 32; b++) {
        const o = bytes * b, d = f16(o), m = hasMin ? f16(o + 2) : 0;
        const qh = fiveBit ? v.getUint32(o + (hasMin ? 4 : 2), true) : 0;
        for (let j = 0; j < 32; j++) {
          const byte = data[o + qsAt + (j % 16)];
          const q = (j < 16 ? byte & 0xf : byte >> 4) | (((qh >>> j) & 1) << 4);
          out[32 * b + j] = hasMin ? d * q + m : d * (q - (fiveBit ? 16 : 8));
        }
      }
      return out;
    }
    case GGML.Q8_0:  // { f16 d; int8 q[32] }: x = d * q
      for (let b = 0; b < count / 32; b++) {
        const o = 34 * b, d = f16(o);
        for (let i = 0; i < 32; i++) out[32 * b + i] = d * v.getInt8(o + 2 + i);
      }
      return out;
    case GGML.Q4_K:  // { f16 d, dmin; u8 scales[12]; u8 qs[128] }: 8 sub-blocks of 32 with 6-bit scale/min
      for (let b = 0; b < count / 256; b++) {
        const o = 144 * b, d = f16(o), dmin = f16(o + 2);
        const sc = data.subarray(o + 4, o + 16), qs = data.subarray(o + 16, o + 144);
        const scaleMin = (j: number): [number, number] =>
          j < 4
            ? [sc[j] & 63, sc[j + 4] & 63]
            : [(sc[j + 4] & 0xf) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)];
        for (let j = 0; j < 4; j++) {  // 64 values per step: low nibbles, then high nibbles of 32 bytes
          const [s1, m1] = scaleMin(2 * j), [s2, m2] = scaleMin(2 * j + 1);
          for (let l = 0; l < 32; l++) {
            const q = qs[32 * j + l];
            out[256 * b + 64 * j + l] = d * s1 * (q & 0xf) - dmin * m1;
            out[256 * b + 64 * j + 32 + l] = d * s2 * (q >> 4) - dmin * m2;
          }
        }
      }
      return out;
    case GGML.Q5_K:  // { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: Q4_K plus bit 4 of value 32j + l in bit j of qh[l]
      for (let b = 0; b < count / 256; b++) {
        const o = 176 * b, d = f16(o), dmin = f16(o + 2);
        const sc = data.subarray(o + 4, o + 16), qh = data.subarray(o + 16, o + 48), qs = data.subarray(o + 48, o + 176);
        for (let j = 0; j < 8; j++) {
          const [s, m] = j < 4
            ? [sc[j] & 63, sc[j + 4] & 63]
            : [(sc[j + 4] & 0xf) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)];
          for (let l = 0; l < 32; l++) {
            const byte = qs[32 * (j >> 1) + l];
            const q = ((j & 1) ? byte >> 4 : byte & 0xf) | (((qh[l] >> j) & 1) << 4);
            out[256 * b + 32 * j + l] = d * s * q - dmin * m;
          }
        }
      }
      return out;
    case GGML.Q6_K:  // { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: 6-bit q - 32, 16 sub-blocks of 16
      for (let b = 0; b < count / 256; b++) {
        const o = 210 * b, d = f16(o + 208);
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half, qh = o + 128 + 32 * half, sc = o + 192 + 8 * half, y = 256 * b + 128 * half;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4, h = data[qh + l];
            const q1 = ((data[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
            const q2 = ((data[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
            const q3 = ((data[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
            const q4 = ((data[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
            out[y + l] = d * v.getInt8(sc + is) * q1;
            out[y + l + 32] = d * v.getInt8(sc + is + 2) * q2;
            out[y + l + 64] = d * v.getInt8(sc + is + 4) * q3;
            out[y + l + 96] = d * v.getInt8(sc + is + 6) * q4;
          }
        }
      }
      return out;
    default:
      throw new Error(`reference dequantize: unsupported ggml type ${type}`);
  }
}
