// Per-request costs of the typing benchmark's own prompts, without the sidecar's scheduling: every keystroke's
// prompt (the extension's builder, as `frspec bench typing` builds it) is decoded to the end, in a chosen
// pattern of decoders on ONE speculative engine (plain = drafter 'none', as the sidecar's per-request choice
// runs it), and each request's split is kept: target prompt ms, the drafter's prompt ms and tokens, decode ms,
// steps, τ, draft/verify ms. Output equality with plain greedy is checked on every request.
//   tsx bench/typing-costs.ts --draft demo-draft --vocab V.frv [--files 5] [--patterns plain,spec,alt] [--threads 2]
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { SpecEngine, type SpecResult } from '../native/spec';
import { openTokenizer } from '../native/tokenizer';
import { encodePrompt, specialTexts } from '../sidecar/prompt';
import { DRAFT_WINDOW } from '../sidecar/decoder';
import { demoModelPath } from '../common/models';
import { packageRoot } from '../common/paths';
import { request, walks, type TypingOptions } from './typing';

const { values } = parseArgs({ options: {
  model: { type: 'string' }, draft: { type: 'string' }, vocab: { type: 'string' }, 'top-k': { type: 'string' }, files: { type: 'string' },
  patterns: { type: 'string' }, threads: { type: 'string' }, 'max-tokens': { type: 'string' }, keystrokes: { type: 'string' }, json: { type: 'string' },
  window: { type: 'string' },
} });
const root = packageRoot();
const model = values.model ?? demoModelPath(root, 'demo-target')!;
const draft = values.draft === 'demo-draft' || !values.draft ? demoModelPath(root, 'demo-draft')! : values.draft;
const o: TypingOptions = {
  model, corpus: `${root}/../shared/corpus/dev.jsonl.xz`, files: Number(values.files ?? 5), keystrokes: Number(values.keystrokes ?? 20), bursts: 3,
  paceMs: 0, pauseMs: 0, prefixChars: 1500, suffixChars: 500, maxTokens: Number(values['max-tokens'] ?? 12), timeBudgetMs: 0, threads: Number(values.threads ?? 2),
  contextSize: 4096, sidecarEntry: '', llamaCpp: false,
};
const window = Number(values.window ?? DRAFT_WINDOW);

async function main() {
  const tok = openTokenizer(model);
  const files = await walks(o);
  const spec = await SpecEngine.load(model, { draft, threads: o.threads, contextSize: o.contextSize });
  const specials = specialTexts(tok);
  const patterns = (values.patterns ?? 'plain,spec,alt').split(',');
  const out: Record<string, unknown[]> = {};
  const reference = new Map<string, string>();
  for (const pattern of patterns) {
    const rows: any[] = [];
    let n = 0;
    for (const f of files) {
      for (const keys of f.bursts) for (const k of keys) {
        const p = request(k, f, specials, o);
        const ids = encodePrompt(tok, p.parts, { maxPromptTokens: 1 << 30, maxPromptChars: 1 << 30, maxTokens: o.maxTokens });
        const mode = pattern === 'plain' ? 'none' : pattern === 'spec' ? 'draft' : pattern === 'alt' ? (n % 2 ? 'none' : 'draft')
          : pattern === 'alt4' ? (n % 4 === 3 ? 'draft' : 'none') : (n % 4 === 3 ? 'none' : 'draft');
        n++;
        const r: SpecResult = await spec.generate(ids, {
          drafter: mode as 'none' | 'draft', maxTokens: o.maxTokens, stopTokens: tok.specials.eog,
          ...(mode === 'draft' ? { vocab: values.vocab, vocabTopK: Number(values['top-k'] ?? 32768), contextTokens: true, chain: 3, lookup: 2, draftWindow: window } : {}),
        });
        const key = `${f.path}:${k.before.length}`;
        const text = Array.from(r.tokens).join(',');
        if (!reference.has(key)) reference.set(key, text);
        else if (reference.get(key) !== text) console.error(`DIFFERS ${pattern} ${key}`);
        rows.push({ file: f.path, mode, nPrompt: r.nPrompt, reEval: r.nPrompt - r.nReused, promptMs: r.promptMs, draftPromptMs: r.draftPromptMs,
          draftPromptTokens: r.draftPromptTokens, decodeMs: r.totalMs - r.promptMs, tokens: r.tokens.length, steps: r.steps, tau: r.tau,
          draftMs: r.draftMs, verifyMs: r.verifyMs, lookupSteps: r.lookupSteps });
      }
    }
    out[pattern] = rows;
    const med = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : NaN; };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    for (const m of ['none', 'draft']) {
      const rs = rows.filter((r) => r.mode === m);
      if (!rs.length) continue;
      console.log(`${pattern.padEnd(6)} ${m.padEnd(5)} n=${rs.length} prompt med ${med(rs.map((r) => r.promptMs)).toFixed(1)} (drafter ${med(rs.map((r) => r.draftPromptMs ?? 0)).toFixed(1)} ms, ${med(rs.map((r) => r.draftPromptTokens ?? 0))} tok; target re-eval ${med(rs.map((r) => r.reEval))}) ` +
        `decode med ${med(rs.map((r) => r.decodeMs)).toFixed(1)} ms, ${(1000 * sum(rs.map((r) => Math.max(0, r.tokens - 1))) / sum(rs.map((r) => r.decodeMs))).toFixed(0)} tok/s, τ ${(sum(rs.map((r) => r.tokens)) / Math.max(1, sum(rs.map((r) => r.steps)))).toFixed(2)}, ` +
        `draft ${(sum(rs.map((r) => r.draftMs ?? 0)) / Math.max(1, sum(rs.map((r) => r.steps)))).toFixed(2)} verify ${(sum(rs.map((r) => r.verifyMs ?? 0)) / Math.max(1, sum(rs.map((r) => r.steps)))).toFixed(2)} ms/step, total med ${med(rs.map((r) => r.promptMs + r.decodeMs)).toFixed(1)}`);
    }
  }
  console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (values.json) require('node:fs').writeFileSync(values.json, JSON.stringify(out));
  await spec.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
