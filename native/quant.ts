// Weight quantization through the native engine (ggml block layouts), for building GGUF fixtures.
import { addon } from './addon';

export type WeightType = 'F32' | 'F16' | 'BF16' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'IQ4_NL' | 'IQ4_XS';

/** Quantizes rows of `cols` values (data.length must be a multiple of cols) into the type's ggml layout. */
export function quantize(type: WeightType, data: Float32Array, cols: number): Buffer {
  return addon().quantize(type, data, cols);
}

/** The values the engine sees for rows of `cols` values stored as `type`. */
export function dequantize(type: WeightType, bytes: Uint8Array, cols: number): Float32Array {
  return addon().dequantize(type, bytes, cols);
}
