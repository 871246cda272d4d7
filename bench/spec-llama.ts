// llama.cpp's draft-model speculative decoding as a baseline: node-llama-cpp's DraftSequenceTokenPredictor
// on a target context, greedy, with the thread count passed explicitly. It drafts up to 4 tokens with no
// confidence floor, like our chain of 4 (its default floor of 0.6 never drafts with the demo draft model,
// whose distributions are flat, and then it is plain decoding plus overhead). node-llama-cpp is installed on first use by ./llama-cpp.ts.
import * as path from 'node:path';
import { packageRoot } from '../cli/paths';

const entry = path.join(packageRoot(), '.cache', 'node-llama-cpp', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
const importEsm = new Function('p', 'return import(p)') as (p: string) => Promise<any>;

export interface LlamaSpecModel {
  greedy(prompt: number[], n: number): Promise<{ tokens: number[]; decodeMs: number; validated: number; refuted: number }>;
  close(): Promise<void>;
}

export async function loadLlamaCppSpeculative(targetPath: string, draftPath: string, threads: number, contextSize: number): Promise<LlamaSpecModel> {
  const { getLlama, DraftSequenceTokenPredictor } = await importEsm(entry);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
  const target = await llama.loadModel({ modelPath: targetPath, gpuLayers: 0 });
  const draft = await llama.loadModel({ modelPath: draftPath, gpuLayers: 0 });
  const batchSize = Math.min(512, contextSize);
  const draftContext = await draft.createContext({ contextSize, threads, batchSize, sequences: 1 });
  const context = await target.createContext({ contextSize, threads, batchSize, sequences: 1 });
  let seq = context.getSequence({ tokenPredictor: new DraftSequenceTokenPredictor(draftContext.getSequence(), { maxTokens: 4, minConfidence: 0 }) });
  return {
    async greedy(prompt, n) {
      await seq.clearHistory();
      const before = { ...seq.tokenPredictions };
      const tokens: number[] = [];
      let tFirst = 0;
      for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
        if (tokens.length === 0) tFirst = performance.now();
        tokens.push(t);
        if (tokens.length >= n) break;
      }
      const after = seq.tokenPredictions;
      return { tokens, decodeMs: performance.now() - tFirst, validated: after.validated - before.validated, refuted: after.refuted - before.refuted };
    },
    async close() {
      await context.dispose();
      await draftContext.dispose();
      await target.dispose();
      await draft.dispose();
      await llama.dispose();
      seq = undefined;
    },
  };
}
