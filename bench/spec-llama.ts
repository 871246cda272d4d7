// llama.cpp's speculative decoding as baselines, through node-llama-cpp's token predictors on a target
// context, greedy, with the thread count passed explicitly:
// - DraftSequenceTokenPredictor with the draft model: up to 4 drafted tokens with no confidence floor, like
//   our chain of 4 (its default floor of 0.6 never drafts with the demo draft model, whose distributions
//   are flat, and then it is plain decoding plus overhead);
// - InputLookupTokenPredictor (prompt lookup): the tokens after an earlier occurrence of the last 1..4
//   tokens in the input, up to 4 of them, like our context lookup (spec/lookup.h).
// node-llama-cpp is installed on first use by ./llama-cpp.ts.
import * as path from 'node:path';
import { packageRoot } from '../common/paths';

const entry = path.join(packageRoot(), '.cache', 'node-llama-cpp', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
const importEsm = new Function('p', 'return import(p)') as (p: string) => Promise<any>;

export interface LlamaSpecModel {
  greedy(prompt: number[], n: number): Promise<{ tokens: number[]; decodeMs: number; validated: number; refuted: number }>;
  close(): Promise<void>;
}

type Lib = any;

/** A target context whose sequence uses the predictor makePredictor builds (and whatever it loaded). */
async function loadWithPredictor(targetPath: string, threads: number, contextSize: number,
  makePredictor: (lib: Lib, llama: any, batchSize: number) => Promise<{ predictor: any; dispose(): Promise<void> }>): Promise<LlamaSpecModel> {
  const lib = await importEsm(entry);
  const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
  const target = await llama.loadModel({ modelPath: targetPath, gpuLayers: 0 });
  const batchSize = Math.min(512, contextSize);
  const extra = await makePredictor(lib, llama, batchSize);
  const context = await target.createContext({ contextSize, threads, batchSize, sequences: 1 });
  let seq = context.getSequence({ tokenPredictor: extra.predictor });
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
      await extra.dispose();
      await target.dispose();
      await llama.dispose();
      seq = undefined;
    },
  };
}

export function loadLlamaCppSpeculative(targetPath: string, draftPath: string, threads: number, contextSize: number): Promise<LlamaSpecModel> {
  return loadWithPredictor(targetPath, threads, contextSize, async (lib, llama, batchSize) => {
    const draft = await llama.loadModel({ modelPath: draftPath, gpuLayers: 0 });
    const draftContext = await draft.createContext({ contextSize, threads, batchSize, sequences: 1 });
    return {
      predictor: new lib.DraftSequenceTokenPredictor(draftContext.getSequence(), { maxTokens: 4, minConfidence: 0 }),
      async dispose() {
        await draftContext.dispose();
        await draft.dispose();
      },
    };
  });
}

export function loadLlamaCppLookup(targetPath: string, threads: number, contextSize: number, minNgram: number): Promise<LlamaSpecModel> {
  return loadWithPredictor(targetPath, threads, contextSize, async (lib) => ({
    predictor: new lib.InputLookupTokenPredictor({ patternLength: { min: minNgram, max: 4 }, predictionLength: { min: 1, max: 4 } }),
    async dispose() {},
  }));
}
