// One-off check (not in CI: it installs node-llama-cpp, 730 MB, and writes GB-sized files) that llama.cpp
// loads the random real-shape files of bench/random-gguf.ts and that both engines decode them:
//   tsx bench/random-gguf-llama.ts [--models qwen2.5-coder-0.5b:Q4_K_M,qwen2.5-coder-1.5b:Q4_K_M] [--threads 2]
// Prints per file: its size, both engines' first 8 greedy tokens on the same ids and decode tok/s. Random
// weights make the two engines' argmaxes differ sometimes (rounding), so agreement is informative only.
import { parseArgs } from 'node:util';
import { Engine } from '../native/engine';
import * as fs from 'node:fs';
import { LLAMA_CPP_VERSION, loadLlamaCpp } from './llama-cpp';
import { randomModel } from './random-gguf';
import { FILE_TYPES, type FileType } from './shapes';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string' }, threads: { type: 'string' } } });
  const threads = Number(values.threads ?? 2);
  const models = (values.models ?? 'qwen2.5-coder-0.5b:Q4_K_M,qwen2.5-coder-1.5b:Q4_K_M').split(',');
  const prompt = Array.from({ length: 32 }, (_, i) => 1000 + ((i * 7919) % 30000));
  let failed = 0;
  for (const m of models) {
    const [shape, type] = m.split(':');
    if (!FILE_TYPES.includes(type as FileType)) throw new Error(`${m}: the type must be one of ${FILE_TYPES.join(', ')}`);
    const file = randomModel(shape, type as FileType, (s) => console.log(s));
    const ours = await Engine.load(file, { threads, contextSize: 256 });
    const o = await ours.generate(prompt, { maxTokens: 8, stopTokens: [] });
    await ours.close();
    try {
      const llama = await loadLlamaCpp(file, threads, 256);
      const l = await llama.greedy(prompt, 8, false);
      await llama.close();
      console.log(`${shape} ${type} (${(fs.statSync(file).size / 1e9).toFixed(2)} GB): llama.cpp ${LLAMA_CPP_VERSION} loads it; ` +
        `ours [${[...o.tokens]}] ${((o.nDecodeSteps * 1000) / o.decodeMs).toFixed(1)} tok/s, ` +
        `llama.cpp [${l.tokens}] ${((l.decodeSteps * 1000) / l.decodeMs).toFixed(1)} tok/s`);
    } catch (e) {
      failed++;
      console.log(`${shape} ${type}: llama.cpp FAILED to load or decode: ${(e as Error).message}`);
    }
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`random-gguf-llama: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
