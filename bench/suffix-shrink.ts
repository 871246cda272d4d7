// What shrinking the FIM suffix costs in quality: first-line exact match of greedy completions on dev FIM
// prompts (../shared/corpus/dev.jsonl.xz) with the full suffix window vs the suffix cut to N tokens at a line
// end (sidecar/suffix-cap.ts, what the sidecar does under a prompt budget), and what it saves: the
// suffix tokens every keystroke re-evaluates, with the measured prompt speed of the same run. The cursor is
// at the start of a file's middle line (a non-blank line), the prefix is the extension's 4000-character
// window, the suffix its 1000-character window starting at the line after; the completion's first line must
// equal the removed line (trailing spaces ignored). The demo models are tiny and rarely get a line exactly
// right, so the edit similarity of the first line (1 - Levenshtein / longer length, as CrossCodeEval's ES)
// and the first generated token's agreement with the removed line's first token are reported too.
//
//   npx tsx bench/suffix-shrink.ts [--model demo-target|M.gguf] [--prompts 120] [--caps full,128,64,32,0]
//     [--threads 2] [--json]
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../native/engine';
import { openTokenizer } from '../native/tokenizer';
import { capSuffix } from '../sidecar/suffix-cap';
import type { PromptPart } from '../sidecar/protocol';
import { demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'demo-target' }, prompts: { type: 'string', default: '120' },
    caps: { type: 'string', default: 'full,128,64,32,0' }, threads: { type: 'string', default: '2' }, json: { type: 'boolean', default: false },
  },
});

/** 1 - Levenshtein distance / the longer length (1 for two empty strings). */
function editSimilarity(x: string, y: string): number {
  if (!x.length && !y.length) return 1;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - prev[y.length] / Math.max(x.length, y.length);
}

async function main() {
  if (!sharedDir()) throw new Error('../shared is absent: the demo models and the dev corpus live there');
  const model = a.model === 'demo-target' ? demoModel('demo-target')! : a.model!;
  const tok = openTokenizer(model);
  const engine = await Engine.load(model, { threads: Number(a.threads), contextSize: 4096 });
  const caps = a.caps!.split(',').map((c) => (c === 'full' ? Infinity : Number(c)));
  const rows = caps.map((cap) => ({ cap, exact: 0, es: 0, firstToken: 0, suffixTokens: 0, promptMs: 0, evaluated: 0 }));
  const s = tok.specials;
  let n = 0;
  try {
    for await (const f of readJsonlCorpus(path.join(sharedDir()!, 'corpus', 'dev.jsonl.xz'))) {
      const lines = f.text.split('\n');
      if (lines.length < 12) continue;
      const cut = Math.floor(lines.length / 2);
      const truth = lines[cut].trimEnd();
      if (!truth.trim()) continue;
      let prefix = lines.slice(0, cut).join('\n') + '\n';
      if (prefix.length > 4000) prefix = prefix.slice(prefix.indexOf('\n', prefix.length - 4000) + 1);
      let suffix = lines.slice(cut + 1).join('\n');
      if (suffix.length > 1000) suffix = suffix.slice(0, suffix.lastIndexOf('\n', 1000) + 1);
      const parts: PromptPart[] = [{ special: 'fim_prefix' }, prefix, { special: 'fim_suffix' }, suffix, { special: 'fim_middle' }];
      const prefixIds = tok.encode(prefix);
      const truthIds = tok.encode(lines[cut]);  // the prefix is encoded on its own and ends with '\n', as in the prompt
      for (const row of rows) {
        const capped = Number.isFinite(row.cap) ? capSuffix(tok, parts, row.cap).parts : parts;
        const sufText = capped.length === 5 ? capped[3] as string : '';
        const sufIds = tok.encode(sufText);
        const prompt = [s.fimPre, ...prefixIds, s.fimSuf, ...sufIds, s.fimMid];
        const r = await engine.generate(prompt, { maxTokens: 32, stopTokens: s.eog });
        const first = tok.decode(r.tokens).split('\n')[0].trimEnd();
        row.exact += first === truth ? 1 : 0;
        row.es += editSimilarity(first, truth);
        row.firstToken += r.tokens.length > 0 && r.tokens[0] === truthIds[0] ? 1 : 0;
        row.suffixTokens += sufIds.length;
        if (r.nPrompt - r.nReused >= 16) { row.promptMs += r.promptMs; row.evaluated += r.nPrompt - r.nReused; }
      }
      if (++n >= Number(a.prompts)) break;
    }
  } finally {
    await engine.close();
  }
  const tps = rows.reduce((t, r) => t + r.evaluated, 0) / (rows.reduce((t, r) => t + r.promptMs, 0) / 1000);
  console.log(`${n} dev FIM prompts, ${path.basename(model)}, ${a.threads} threads; prompt speed ${tps.toFixed(0)} tokens/s`);
  console.log('suffix            first-line exact   edit sim.   first token   suffix tokens/keystroke   re-evaluation ms/keystroke');
  const out = rows.map((r) => ({
    suffix: Number.isFinite(r.cap) ? `≤ ${r.cap} tokens` : 'full (1000 chars)', exactMatch: r.exact / n, exact: r.exact,
    editSimilarity: r.es / n, firstToken: r.firstToken / n, suffixTokens: r.suffixTokens / n, suffixMs: (r.suffixTokens / n) / tps * 1000,
  }));
  for (const r of out) {
    console.log(`${r.suffix.padEnd(18)}${(100 * r.exactMatch).toFixed(1).padStart(6)}% (${r.exact}/${n})${(100 * r.editSimilarity).toFixed(1).padStart(10)}%` +
      `${(100 * r.firstToken).toFixed(1).padStart(13)}%${r.suffixTokens.toFixed(0).padStart(18)}${r.suffixMs.toFixed(1).padStart(26)}`);
  }
  if (a.json) console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} x${os.cpus().length}`, loadavg: os.loadavg(), model: path.basename(model), prompts: n, promptTokensPerSecond: tps, rows: out }));
}

main().catch((e) => { console.error(`suffix-shrink: ${(e as Error).message}`); process.exit(1); });
