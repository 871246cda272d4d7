// What bounding the draft model's prompt (`draftWindow`: it reads only about the prompt's last N tokens)
// costs and saves: on dev FIM prompts with the extension's windows (4000 characters before the cursor, 1000
// after), for each window the drafter's prompt reading of a prompt new to its cache (tokens, ms) and τ / ms
// per token of the speculative decoding that follows (draft model, FR-Spec top-k of a .frv + prompt ids,
// chain 3 + context lookup 2: the sidecar's shape), and whether every output equals plain greedy decoding.
// Each prompt is decoded once per window in rotating order after a different prompt, so every window starts
// from a cold drafter cache.
//
//   npx tsx bench/draft-window.ts --vocab V.frv [--top-k 8192] [--prompts 30] [--windows 0,1024,512,256] [--tokens 48] [--threads 2] [--json]
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fimPrompts } from '../fixtures/fim-prompts';
import { SpecEngine } from '../native/spec';
import { openTokenizer } from '../native/tokenizer';
import { demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';

const { values: a } = parseArgs({
  options: {
    vocab: { type: 'string' }, 'top-k': { type: 'string', default: '8192' }, prompts: { type: 'string', default: '30' },
    windows: { type: 'string', default: '0,1024,512,256' }, tokens: { type: 'string', default: '48' }, threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});

async function main() {
  if (!sharedDir()) throw new Error('../shared is absent: the demo models and the dev corpus live there');
  if (!a.vocab) throw new Error('--vocab V.frv is required (e.g. npx frspec vocab build --model .cache/models/demo-target.gguf --out V.frv ../shared/corpus/train.jsonl.xz)');
  const target = demoModel('demo-target')!;
  const tok = openTokenizer(target);
  const prompts = await fimPrompts(readJsonlCorpus(path.join(sharedDir()!, 'corpus', 'dev.jsonl.xz')), tok, Number(a.prompts) + 1, { prefixChars: 4000, suffixChars: 1000 });
  const engine = await SpecEngine.load(target, { draft: demoModel('demo-draft')!, threads: Number(a.threads), contextSize: 4096 });
  const windows = a.windows!.split(',').map(Number);
  const rows = windows.map((w) => ({ window: w, readTokens: 0, readMs: 0, tokens: 0, steps: 0, decodeMs: 0, exact: 0 }));
  const opts = { drafter: 'draft' as const, vocab: a.vocab, vocabTopK: Number(a['top-k']), contextTokens: true, chain: 3, lookup: 2, maxTokens: Number(a.tokens), stopTokens: tok.specials.eog };
  let promptTokens = 0;
  try {
    for (let i = 1; i < prompts.length; i++) {
      const p = prompts[i].tokens;
      promptTokens += p.length;
      const plain = await engine.generate(p, { drafter: 'none', maxTokens: opts.maxTokens, stopTokens: opts.stopTokens });
      for (let k = 0; k < rows.length; k++) {
        const row = rows[(k + i) % rows.length];
        await engine.generate(prompts[(i + k) % i].tokens, { ...opts, maxTokens: 2 });  // another prompt: the drafter's cache goes cold
        const r = await engine.generate(p, { ...opts, draftWindow: row.window });
        row.readTokens += r.draftPromptTokens;
        row.readMs += r.draftPromptMs;
        row.tokens += r.tokens.length;
        row.steps += r.steps;
        row.decodeMs += r.totalMs - r.promptMs;
        row.exact += Buffer.from(r.tokens.buffer).equals(Buffer.from(plain.tokens.buffer)) ? 1 : 0;
      }
    }
  } finally {
    await engine.close();
  }
  const n = prompts.length - 1;
  console.log(`${n} dev FIM prompts (mean ${(promptTokens / n).toFixed(0)} tokens), draft model, FR ${a['top-k']} + prompt ids, chain 3 + lookup 2, ${a.threads} threads (load ${os.loadavg()[0].toFixed(1)})`);
  console.log('draft window   drafter prompt tokens / ms (mean)   τ      speculative ms/token   = plain greedy');
  const out = rows.map((r) => ({ window: r.window, drafterPromptTokens: r.readTokens / n, drafterPromptMs: r.readMs / n, tau: r.tokens / r.steps, msPerToken: r.decodeMs / r.tokens, exact: r.exact, prompts: n }));
  for (const r of out) {
    console.log(`${(r.window ? String(r.window) : 'all').padStart(12)}${r.drafterPromptTokens.toFixed(0).padStart(22)} / ${r.drafterPromptMs.toFixed(2).padEnd(12)}${r.tau.toFixed(2).padStart(6)}${r.msPerToken.toFixed(3).padStart(20)}       ${r.exact}/${n}`);
  }
  if (a.json) console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} x${os.cpus().length}`, loadavg: os.loadavg(), rows: out }));
}

main().catch((e) => { console.error(`draft-window: ${(e as Error).message}`); process.exit(1); });
