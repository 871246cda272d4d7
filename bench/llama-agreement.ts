// Agreement with llama.cpp (npm run bench:llama-agreement [-- --models demo-target,demo-draft,FILE.gguf]
// [--prompts 20] [--tokens 64] [--threads N] [--json]): greedy completions of FIM prompts built from
// held-out files of ../shared/corpus/dev.jsonl.xz, ours vs llama.cpp (node-llama-cpp, installed on first
// use) on the same GGUF file and the same token ids. Prints how many completions are token-for-token
// identical and, for each difference, where it starts and how close our top two logits were there:
// llama.cpp rounds activations to F16 before F16 matmuls and keeps its KV cache in F16, we compute in F32,
// so a near-tie can go either way; a large margin would point at a real bug.
//
// A committed script rather than a CI test: it needs the 730 MB node-llama-cpp install (network) and
// takes minutes on two cores.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../native/engine';
import { openTokenizer } from '../native/tokenizer';
import { type DemoModel, demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';
import { LLAMA_CPP_VERSION, loadLlamaCpp } from './llama-cpp';

const PREFIX_CHARS = 1500, SUFFIX_CHARS = 500;

/** A FIM case from one file: the line at the middle of the file is the hole. */
function fimCase(text: string): { prefix: string; suffix: string } | undefined {
  const mid = text.lastIndexOf('\n', Math.floor(text.length / 2)) + 1;
  const end = text.indexOf('\n', mid);
  if (mid <= 0 || end < 0) return undefined;
  return { prefix: text.slice(Math.max(0, mid - PREFIX_CHARS), mid), suffix: text.slice(end + 1, end + 1 + SUFFIX_CHARS) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { models: { type: 'string' }, prompts: { type: 'string' }, tokens: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } },
  });
  const shared = sharedDir();
  if (!shared) {
    console.log('bench:llama-agreement skipped: ../shared (demo models and corpus) is absent');
    if (values.json) console.log(JSON.stringify({ ok: false, skipped: '../shared is absent' }));
    return;
  }
  // Demo model names or GGUF paths with the demo tokenizer (e.g. the demo target re-quantized by bench/requantize.ts).
  const models = (values.models ?? 'demo-target').split(',');
  const modelFile = (m: string) => (m.endsWith('.gguf') ? m : demoModel(m as DemoModel)!);
  const nPrompts = Number(values.prompts ?? 20), nTokens = Number(values.tokens ?? 64);
  const threads = Number(values.threads ?? os.cpus().length);

  const tok = openTokenizer(modelFile(models[0]));
  const sp = tok.specials;
  const prompts: number[][] = [];
  for await (const f of readJsonlCorpus(path.join(shared, 'corpus', 'dev.jsonl.xz'))) {
    const c = fimCase(f.text);
    if (!c) continue;
    prompts.push([sp.fimPre, ...tok.encode(c.prefix), sp.fimSuf, ...tok.encode(c.suffix), sp.fimMid]);
    if (prompts.length === nPrompts) break;
  }

  const summary = [];
  for (const name of models) {
    const file = modelFile(name);
    const contextSize = Math.max(...prompts.map((p) => p.length)) + nTokens + 8;
    const ours = await Engine.load(file, { threads, contextSize });
    const llama = await loadLlamaCpp(file, threads, contextSize);
    const diffs = [];
    let identical = 0, generated = 0;
    for (const [i, p] of prompts.entries()) {
      const r = await ours.generate(p, { maxTokens: nTokens, stopTokens: sp.eog });
      // Both without the end-of-generation token (node-llama-cpp ends its generator there without yielding it).
      const a = [...r.tokens];
      generated += a.length;
      const b = (await llama.greedy(p, nTokens, true)).tokens.filter((t) => !sp.eog.includes(t));
      if (a.length === b.length && a.every((t, k) => t === b[k])) {
        identical++;
        continue;
      }
      let k = 0;
      while (k < a.length && k < b.length && a[k] === b[k]) k++;
      // Our logits where the two part: how far apart were our choice and llama.cpp's?
      await ours.truncate(0);
      const upTo = [...p, ...a.slice(0, k)], batch = ours.info.maxBatch;
      for (let s = 0; s + batch < upTo.length; s += batch) await ours.eval(upTo.slice(s, s + batch), { logits: 'none' });
      const { logits } = await ours.eval(upTo.slice(Math.floor((upTo.length - 1) / batch) * batch), { logits: 'last' });
      const sorted = [...logits].sort((x, y) => y - x);
      diffs.push({
        prompt: i, at: k, ours: a[k], llamaCpp: b[k], oursLength: a.length, llamaLength: b.length,
        marginToLlamaChoice: b[k] === undefined ? null : +(logits[a[k]] - logits[b[k]]).toFixed(5),
        top1MinusTop2: +(sorted[0] - sorted[1]).toFixed(5),
      });
    }
    await ours.close();
    await llama.close();
    summary.push({ model: name, identical, total: prompts.length, tokens: generated, diffs });
    console.log(`${name}: ${identical}/${prompts.length} greedy FIM completions (up to ${nTokens} tokens or end of generation; ` +
      `${generated} tokens in all) token-for-token identical to llama.cpp (node-llama-cpp ${LLAMA_CPP_VERSION}, ${threads} threads)`);
    for (const d of diffs)
      console.log(`  prompt ${d.prompt}: first difference at token ${d.at} (ours ${d.ours}, llama.cpp ${d.llamaCpp}); ` +
        `our logit margin between the two: ${d.marginToLlamaChoice}, our top-1 minus top-2: ${d.top1MinusTop2}`);
  }
  if (values.json) console.log(JSON.stringify({ ok: true, summary }));
}

main().catch((e) => {
  console.error(`bench:llama-agreement: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
