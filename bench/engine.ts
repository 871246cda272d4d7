// Engine speed (npm run bench:engine [-- --threads N] [--prompt-tokens 256] [--decode-tokens 64]
// [--repeats 3] [--models demo-target,demo-draft,FILE.gguf] [--no-llama-cpp] [--json]): prompt processing and greedy
// decode tokens/s of our CPU engine beside llama.cpp (node-llama-cpp, installed on first use) on the
// demo models, with the same thread count, the same prompts and in the same run (the engines alternate,
// repeat by repeat; medians are reported). Ours runs twice: as shipped (greedy steps find the argmax of
// a float LM head through its exact 8-bit prefilter) and with FRSPEC_ARGMAX_FILTER=0 (the full head, as
// llama.cpp reads it). GB/s = bytes of weights a decode step reads x decode tokens/s: every matrix, one
// embedding row and the LM head (or its 8-bit copy). Prompts are the first N tokens of held-out files in
// ../shared/corpus/dev.jsonl.xz. This is a benchmark, not a test.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine, estimateMemory } from '../native/engine';
import { openTokenizer } from '../native/tokenizer';
import { type DemoModel, demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';
import { LLAMA_CPP_VERSION, loadLlamaCpp } from './llama-cpp';

interface Sample { promptTps: number; decodeTps: number }
interface Row { model: string; engine: string; promptTps: number; decodeTps: number; gbPerSec: number }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const int = (v: string | undefined, name: string, def: number) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${v}'`);
  return n;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'decode-tokens': { type: 'string' },
      repeats: { type: 'string' }, models: { type: 'string' }, 'no-llama-cpp': { type: 'boolean' }, json: { type: 'boolean' },
    },
  });
  const shared = sharedDir();
  if (!shared) {
    console.log('bench:engine skipped: ../shared (demo models and corpus) is absent');
    if (values.json) console.log(JSON.stringify({ ok: false, skipped: '../shared is absent' }));
    return;
  }
  const threads = int(values.threads, 'threads', os.cpus().length);
  const nPrompt = int(values['prompt-tokens'], 'prompt-tokens', 256);
  const nDecode = int(values['decode-tokens'], 'decode-tokens', 64);
  const repeats = int(values.repeats, 'repeats', 3);
  // Demo model names or GGUF paths with the demo tokenizer (e.g. the demo target re-quantized by bench/requantize.ts).
  const models = (values.models ?? 'demo-target,demo-draft').split(',');
  const modelFile = (m: string) => (m.endsWith('.gguf') ? m : demoModel(m as DemoModel)!);
  const withLlama = !values['no-llama-cpp'];

  // One prompt per repeat: the first nPrompt tokens of successive held-out files long enough.
  const tok = openTokenizer(modelFile(models[0]));
  const prompts: number[][] = [];
  for await (const f of readJsonlCorpus(path.join(shared, 'corpus', 'dev.jsonl.xz'))) {
    const ids = tok.encode(f.text);
    if (ids.length >= nPrompt) prompts.push([...ids.subarray(0, nPrompt)]);
    if (prompts.length === repeats) break;
  }
  if (prompts.length < repeats) throw new Error(`only ${prompts.length} dev files have ${nPrompt} tokens`);

  const load0 = os.loadavg()[0];
  const rows: Row[] = [];
  for (const name of models) {
    const file = modelFile(name);
    const contextSize = nPrompt + nDecode + 8;
    const ours = await Engine.load(file, { threads, contextSize });
    process.env.FRSPEC_ARGMAX_FILTER = '0';  // read when the backend is made
    const oursFull = await Engine.load(file, { threads, contextSize });
    delete process.env.FRSPEC_ARGMAX_FILTER;
    const llama = withLlama ? await loadLlamaCpp(file, threads, contextSize) : undefined;
    const runs: Sample[][] = [[], [], []];
    // One untimed warm-up each (page in the mmapped weights, spin up threads), then alternate.
    for (const e of [ours, oursFull]) await e.generate(prompts[0].slice(0, 16), { maxTokens: 4, stopTokens: [] });
    await llama?.greedy(prompts[0].slice(0, 16), 4, false);
    for (const p of prompts) {
      for (const [k, e] of [ours, oursFull].entries()) {
        await e.truncate(0);  // no prefix reuse: measure the whole prompt
        const r = await e.generate(p, { maxTokens: nDecode, stopTokens: [] });
        runs[k].push({ promptTps: (p.length * 1000) / r.promptMs, decodeTps: (r.nDecodeSteps * 1000) / r.decodeMs });
      }
      if (llama) {
        const l = await llama.greedy(p, nDecode, false);
        runs[2].push({ promptTps: (p.length * 1000) / l.promptMs, decodeTps: (l.decodeSteps * 1000) / l.decodeMs });
      }
    }
    const full = ours.info.bytesPerToken;
    const filtered = full - ours.info.lmHeadBytes + estimateMemory(file).argmaxFilter;
    const row = (engine: string, samples: Sample[], bytes: number) => {
      const decodeTps = median(samples.map((s) => s.decodeTps));
      rows.push({ model: name, engine, promptTps: median(samples.map((s) => s.promptTps)), decodeTps, gbPerSec: (bytes * decodeTps) / 1e9 });
    };
    // The filter exists only for a float LM head (a quantized head is read as it is).
    const filterOn = estimateMemory(file).argmaxFilter > 0 && filtered < full && /avx512-vnni/.test(ours.info.backend);
    row(`frspec (${ours.info.backend})`, runs[0], filterOn ? filtered : full);
    row('frspec, full LM head', runs[1], full);
    if (llama) row(`llama.cpp (node-llama-cpp ${LLAMA_CPP_VERSION})`, runs[2], full);
    for (const e of [ours, oursFull]) await e.close();
    await llama?.close();
  }

  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
    `load average ${load0.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after`;
  console.log(`engine benchmark: ${threads} threads, prompts of ${nPrompt} tokens, ${nDecode} greedy tokens, median of ${repeats}`);
  console.log(`machine: ${machine}\n`);
  console.log(`${'model'.padEnd(12)} ${'engine'.padEnd(36)} ${'prompt tok/s'.padStart(12)} ${'decode tok/s'.padStart(12)} ${'weights GB/s'.padStart(12)}`);
  for (const r of rows)
    console.log(`${r.model.padEnd(12)} ${r.engine.padEnd(36)} ${r.promptTps.toFixed(1).padStart(12)} ${r.decodeTps.toFixed(1).padStart(12)} ${r.gbPerSec.toFixed(2).padStart(12)}`);
  if (withLlama) {
    console.log('');
    for (const name of models) {
      const [a, f, b] = rows.filter((r) => r.model === name);
      console.log(`${name}: ours / llama.cpp = prompt ${(a.promptTps / b.promptTps).toFixed(2)}x, decode ${(a.decodeTps / b.decodeTps).toFixed(2)}x ` +
        `(full LM head: decode ${(f.decodeTps / b.decodeTps).toFixed(2)}x)`);
    }
  }
  if (values.json) console.log(JSON.stringify({ ok: true, threads, promptTokens: nPrompt, decodeTokens: nDecode, repeats, machine, rows }));
}

main().catch((e) => {
  console.error(`bench:engine: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
