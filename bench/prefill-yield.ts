// How long a newer request waits for a stale prompt, and what the chunking costs: for each prefill chunk
// (`prefillChunk`: prompt tokens evaluated between two looks at the cancel flag), the prompt speed of fresh
// 1024-token prompts and the time from abort to the call's return when a prompt is cancelled at a random
// moment of its evaluation (what the sidecar's next keystroke waits, `queueMs`). Chunk 0 is the batch size
// (256), the behaviour before chunks were a knob of their own.
//
//   npx tsx bench/prefill-yield.ts [--model demo-target|M.gguf] [--chunks 0,128,64,32] [--trials 12] [--threads 2] [--json]
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../native/engine';
import { demoModel } from '../common/shared-data';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'demo-target' }, chunks: { type: 'string', default: '0,128,64,32' },
    trials: { type: 'string', default: '12' }, threads: { type: 'string', default: '2' }, json: { type: 'boolean', default: false },
  },
});

const median = (xs: number[]) => { const v = [...xs].sort((x, y) => x - y); return v[Math.floor((v.length - 1) / 2)]; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const model = a.model === 'demo-target' ? demoModel('demo-target') : a.model;
  if (!model) throw new Error('../shared is absent: the demo models live there');
  const engine = await Engine.load(model, { threads: Number(a.threads), contextSize: 2048 });
  const chunks = a.chunks!.split(',').map(Number);
  const trials = Number(a.trials);
  const rows = chunks.map((chunk) => ({ chunk, tokensPerSecond: [] as number[], cancelWaitMs: [] as number[] }));
  let seed = 1;
  const prompt = () => Array.from({ length: 1024 }, (_, i) => ((i + 1) * 7919 + seed * 104729) % 20000 + 100);
  try {
    // Interleaved trials, so load changes hit every chunk size alike.
    for (let t = 0; t < trials; t++) {
      for (const row of rows) {
        seed++;
        const full = await engine.generate(prompt(), { maxTokens: 1, prefillChunk: row.chunk });
        row.tokensPerSecond.push(full.nPrompt / (full.promptMs / 1000));
        seed++;
        const ctl = new AbortController();
        const call = engine.generate(prompt(), { maxTokens: 1, prefillChunk: row.chunk, signal: ctl.signal });
        await sleep(5 + ((t * 37) % 11) * full.promptMs / 12);  // somewhere in the prompt
        const at = performance.now();
        ctl.abort();
        const r = await call;
        if (r.stop === 'cancelled') row.cancelWaitMs.push(performance.now() - at);
      }
    }
  } finally {
    await engine.close();
  }
  console.log(`${path.basename(model)}, ${a.threads} threads, 1024-token prompts, ${trials} trials each (load ${os.loadavg()[0].toFixed(1)})`);
  console.log('prefill chunk   prompt tok/s (median)   wait after abort ms (median / max)');
  const out = rows.map((r) => ({ chunk: r.chunk || 256, tokensPerSecond: median(r.tokensPerSecond), cancelWaitMs: median(r.cancelWaitMs), cancelWaitMaxMs: Math.max(...r.cancelWaitMs), cancelled: r.cancelWaitMs.length }));
  for (const r of out) console.log(`${String(r.chunk).padStart(13)}${r.tokensPerSecond.toFixed(0).padStart(24)}${r.cancelWaitMs.toFixed(1).padStart(20)} / ${r.cancelWaitMaxMs.toFixed(1)} (${r.cancelled} cancelled)`);
  if (a.json) console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} x${os.cpus().length}`, loadavg: os.loadavg(), model: path.basename(model), rows: out }));
}

main().catch((e) => { console.error(`prefill-yield: ${(e as Error).message}`); process.exit(1); });
