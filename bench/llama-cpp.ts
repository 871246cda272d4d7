// llama.cpp as a baseline, through npm node-llama-cpp@3.21.1 (prebuilt CPU binaries). It is 730 MB, so it
// is not a dependency: the first use installs it into .cache/node-llama-cpp/. Token ids go in and come out
// directly (no text), so both engines see exactly the same prompt. The thread count is always passed
// explicitly: node-llama-cpp's default (4) on a 2-core machine is many times slower.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../common/paths';

export const LLAMA_CPP_VERSION = '3.21.1';
// packageRoot, not test/helpers' repoRoot: that one points above the checkout inside the dist/cli.js bundle.
const prefix = path.join(packageRoot(), '.cache', 'node-llama-cpp');
const entry = path.join(prefix, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

export interface LlamaCppModel {
  /** Greedy completion of `prompt`: n tokens, or up to and including the first end-of-generation token. */
  greedy(prompt: number[], n: number, stopAtEog: boolean): Promise<{ tokens: number[]; promptMs: number; decodeMs: number; decodeSteps: number }>;
  close(): Promise<void>;
}

function ensureInstalled(): void {
  const pkg = path.join(prefix, 'node_modules', 'node-llama-cpp', 'package.json');
  if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).version === LLAMA_CPP_VERSION) return;
  console.error(`installing node-llama-cpp@${LLAMA_CPP_VERSION} into ${prefix} (about 730 MB, once)...`);
  fs.mkdirSync(prefix, { recursive: true });
  execFileSync('npm', ['i', '--prefix', prefix, '-E', `node-llama-cpp@${LLAMA_CPP_VERSION}`, '--no-audit', '--no-fund'], { stdio: 'inherit' });
}

// A real dynamic import (node-llama-cpp is ESM-only; tsx would otherwise turn import() into require()).
const importEsm = new Function('p', 'return import(p)') as (p: string) => Promise<any>;

async function open(modelPath: string, threads: number, contextSize: number) {
  ensureInstalled();
  const { getLlama } = await importEsm(entry);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({ contextSize, threads, batchSize: Math.min(512, contextSize), sequences: 1 });
  return { llama, model, context, seq: context.getSequence() };
}

/** One persistent context sequence, for prefix reuse the way a server does it (bench/typing.ts). */
export interface LlamaCppSequence {
  /** The tokens whose KV cache the sequence holds, in order. */
  contextTokens(): number[];
  /** Drops the cache from position `from` on. */
  truncate(from: number): Promise<void>;
  /** Evaluates `tokens` after the cached ones, then yields greedy tokens until the caller stops iterating. */
  evaluate(tokens: number[]): AsyncGenerator<number>;
  isEog(token: number): boolean;
  close(): Promise<void>;
}

export async function loadLlamaCppSequence(modelPath: string, threads: number, contextSize: number): Promise<LlamaCppSequence> {
  const { llama, model, context, seq } = await open(modelPath, threads, contextSize);
  return {
    contextTokens: () => [...seq.contextTokens],
    async truncate(from) {
      const n = seq.contextTokens.length;
      if (from < n) await seq.eraseContextTokenRanges([{ start: from, end: n }]);
    },
    async *evaluate(tokens) {
      yield* seq.evaluate(tokens, { temperature: 0 });
    },
    isEog: (t) => model.isEogToken(t),
    async close() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

export async function loadLlamaCpp(modelPath: string, threads: number, contextSize: number): Promise<LlamaCppModel> {
  const { llama, model, context, seq } = await open(modelPath, threads, contextSize);
  return {
    async greedy(prompt, n, stopAtEog) {
      await seq.clearHistory();
      const tokens: number[] = [];
      const t0 = performance.now();
      let tFirst = t0;
      for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
        if (tokens.length === 0) tFirst = performance.now();
        tokens.push(t);
        if (tokens.length >= n || (stopAtEog && model.isEogToken(t))) break;
      }
      const tEnd = performance.now();
      return { tokens, promptMs: tFirst - t0, decodeMs: tEnd - tFirst, decodeSteps: tokens.length - 1 };
    },
    async close() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
