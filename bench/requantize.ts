// Re-quantizes a GGUF model's weight matrices into another type (or a llama.cpp-style mix), keeping every
// metadata key (tokenizer included), norm and bias as they are: `tsx bench/requantize.ts IN.gguf OUT.gguf
// TYPE` with TYPE one of F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K IQ4_NL IQ4_XS Q4_K_M Q5_K_M. With the demo
// target it gives real (trained) weights in every format the engine reads, so bench:llama-agreement can
// compare our kernels of that format with llama.cpp's token for token. The scales come from our reference
// quantizers (native/quant.ts), not llama-quantize's, but every byte follows ggml's layout.
import * as fs from 'node:fs';
import { openGguf } from '../native/gguf';
import { dequantize, quantize } from '../native/quant';
import { mixMatrixType, type WeightType } from '../fixtures/random-model';
import { GGML_TYPE_IDS, type GgmlTypeName, type GgufMeta, type GgufScalarType, type GgufTensorSpec, writeGguf } from '../fixtures/gguf-writer';

const TYPES = ['F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS', 'Q4_K_M', 'Q5_K_M'];

export function requantize(input: string, output: string, type: WeightType): void {
  const g = openGguf(input);
  const bytes = fs.readFileSync(input);
  const metadata: GgufMeta[] = g.keys().map((k) =>
    k.type === 'array'
      ? { key: k.key, type: 'array', elementType: k.elementType as GgufScalarType, value: g.get(k.key) as Array<number | string> }
      : { key: k.key, type: k.type as GgufScalarType, value: g.get(k.key) as number | bigint | boolean | string });
  const tensors: GgufTensorSpec[] = g.tensors().map((t) => {
    const data = bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.nBytes);
    if (t.shape.length !== 2 || !t.name.endsWith('.weight')) return { name: t.name, shape: t.shape, type: GGML_TYPE_IDS[t.type as GgmlTypeName], data };
    const cols = t.shape[0], to = mixMatrixType(type, t.name, cols);
    const q = quantize(to, dequantize(t.type as 'F16', data, cols), cols);
    return { name: t.name, shape: t.shape, type: GGML_TYPE_IDS[to], data: new Uint8Array(q.buffer, q.byteOffset, q.byteLength) };
  });
  writeGguf(output, { metadata, tensors, alignment: g.alignment });
}

if (require.main === module) {
  const [input, output, type] = process.argv.slice(2);
  if (!input || !output || !TYPES.includes(type)) {
    console.error(`usage: tsx bench/requantize.ts IN.gguf OUT.gguf TYPE (TYPE: ${TYPES.join(' ')})`);
    process.exit(2);
  }
  requantize(input, output, type as WeightType);
  console.log(`${output}: ${type} (from ${input})`);
}
