// Per-request costs of the typing benchmark's own prompts, without the sidecar's scheduling: every keystroke's
// prompt (the extension's builder, as `frspec bench typing` builds it) is decoded to the end, in a chosen
// pattern of decoders on ONE speculative engine (plain = drafter 'none', as the sidecar's per-request choice
// runs it), and each request's split is kept: target prompt ms, the drafter's prompt ms and tokens, decode ms,
// steps, τ, draft/verify ms. Output equality with plain greedy is checked on every request.
// Pattern `choice`: the sidecar's per-request choice (sidecar/choice.ts, or --chooser M.ts exporting DecoderChoice)
// decides each request from the measurements of the ones before, as in the sidecar (seeded like a calibration).
//   tsx bench/typing-costs.ts --draft demo-draft --vocab V.frv [--files 5] [--patterns plain,spec,alt,choice] [--threads 2]
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { SpecEngine, type SpecResult } from '../native/spec';
import { Engine } from '../native/engine';
import { openTokenizer } from '../native/tokenizer';
import { encodePrompt, specialTexts } from '../sidecar/prompt';
import { DRAFT_WINDOW, LOOKUP_NGRAM } from '../sidecar/decoder';
import { DEFAULT_TOP_K } from '../sidecar/session';
import { demoModelPath } from '../common/models';
import { packageRoot } from '../common/paths';
import { request, walks, type TypingOptions } from './typing';

const { values } = parseArgs({ options: {
  model: { type: 'string' }, draft: { type: 'string' }, vocab: { type: 'string' }, 'top-k': { type: 'string' }, files: { type: 'string' },
  patterns: { type: 'string' }, threads: { type: 'string' }, 'max-tokens': { type: 'string' }, keystrokes: { type: 'string' }, json: { type: 'string' },
  window: { type: 'string' }, chooser: { type: 'string' }, shapes: { type: 'string' },
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
  // Pattern `engine`: plain decoding on the plain engine (the sidecar's PlainDecoder), alternating request by
  // request with plain decoding on the speculative engine (drafter 'none', the per-request choice's plain).
  const engine = (values.patterns ?? '').includes('engine') ? await Engine.load(model, { threads: o.threads, contextSize: o.contextSize }) : undefined;
  const patterns = (values.patterns ?? 'plain,spec,alt').split(',');
  const out: Record<string, unknown[]> = {};
  let refPlainMs: number | undefined, refSpecMs: number | undefined, refTau: number | undefined;
  const reference = new Map<string, string>();
  for (const pattern of patterns) {
    const rows: any[] = [];
    let n = 0;
    const { DecoderChoice } = await import(values.chooser ? require('node:path').resolve(values.chooser) : '../sidecar/choice');
    const chooser = new DecoderChoice();
    if (pattern === 'choice') chooser.seed(1000 / (refPlainMs ?? 2), 1000 / (refSpecMs ?? 1.5), refTau ?? 2);
    for (const f of files) {
      for (const keys of f.bursts) for (const k of keys) {
        const p = request(k, f, specials, o);
        const ids = encodePrompt(tok, p.parts, { maxPromptTokens: 1 << 30, maxPromptChars: 1 << 30, maxTokens: o.maxTokens });
        const mode = pattern === 'plain' ? 'none' : pattern === 'spec' ? 'draft' : pattern === 'alt' ? (n % 2 ? 'none' : 'draft')
          : pattern === 'engine' ? 'none' : pattern === 'shapes' ? 'draft' : pattern === 'choice' ? (chooser.choose(o.maxTokens).mode === 'speculative' ? 'draft' : 'none')
          : pattern === 'alt4' ? (n % 4 === 3 ? 'draft' : 'none') : (n % 4 === 3 ? 'none' : 'draft');
        // Pattern `shapes`: speculative, cycling request by request through --shapes chain:lookupTokens,... (e.g. 3:4,2:2).
        const shapes = (values.shapes ?? '3:4').split(',').map((x) => x.split(':').map(Number));
        const shape = shapes[n % shapes.length];
        const shapeName = pattern === 'shapes' ? `c${shape[0]}l${shape[1]}` : undefined;
        n++;
        if (pattern === 'engine' && n % 2 === 1) {
          const g = await engine!.generate(ids, { maxTokens: o.maxTokens, stopTokens: tok.specials.eog });
          rows.push({ file: f.path, mode: 'engine', nPrompt: g.nPrompt, reEval: g.nPrompt - g.nReused, promptMs: g.promptMs, decodeMs: g.decodeMs, tokens: g.tokens.length, steps: g.tokens.length });
          continue;
        }
        const r: SpecResult = await spec.generate(ids, {
          drafter: mode as 'none' | 'draft', maxTokens: o.maxTokens, stopTokens: tok.specials.eog,
          ...(mode === 'draft' ? { vocab: values.vocab, vocabTopK: Number(values['top-k'] ?? DEFAULT_TOP_K), contextTokens: true, chain: pattern === 'shapes' ? shape[0] : 3, lookup: LOOKUP_NGRAM,
            lookupTokens: pattern === 'shapes' ? shape[1] : 4, draftWindow: window } : {}),
        });
        if (pattern === 'choice') chooser.record({ mode: mode === 'draft' ? 'speculative' : 'plain', tokens: r.tokens.length, decodeMs: r.totalMs - r.promptMs, steps: r.steps,
          draftMs: r.draftMs, verifyMs: r.verifyMs, draftPromptMs: mode === 'draft' ? r.draftPromptMs : undefined, nPrompt: r.nPrompt, nReused: r.nReused });
        const key = `${f.path}:${k.before.length}`;
        const text = Array.from(r.tokens).join(',');
        if (!reference.has(key)) reference.set(key, text);
        else if (reference.get(key) !== text) console.error(`DIFFERS ${pattern} ${key}`);
        rows.push({ file: f.path, mode: shapeName ?? mode, nPrompt: r.nPrompt, reEval: r.nPrompt - r.nReused, promptMs: r.promptMs, draftPromptMs: r.draftPromptMs,
          draftPromptTokens: r.draftPromptTokens, decodeMs: r.totalMs - r.promptMs, tokens: r.tokens.length, steps: r.steps, tau: r.tau,
          draftMs: r.draftMs, verifyMs: r.verifyMs, lookupSteps: r.lookupSteps });
      }
    }
    out[pattern] = rows;
    // Seeds for the choice pattern: what calibration would measure (ms per token of each, τ), from these rows.
    const dec = (m: string) => rows.filter((r) => r.mode === m);
    if (dec('none').length) refPlainMs = dec('none').reduce((a, r) => a + r.decodeMs, 0) / dec('none').reduce((a, r) => a + r.tokens, 0);
    if (dec('draft').length) {
      refSpecMs = dec('draft').reduce((a, r) => a + r.decodeMs, 0) / dec('draft').reduce((a, r) => a + r.tokens, 0);
      refTau = dec('draft').reduce((a, r) => a + r.tokens, 0) / dec('draft').reduce((a, r) => a + r.steps, 0);
    }
    const med = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : NaN; };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    if (pattern === 'choice') {
      const total = rows.reduce((a, r) => a + r.promptMs + r.decodeMs, 0), dms = rows.reduce((a, r) => a + r.decodeMs, 0);
      console.log(`${pattern.padEnd(6)} all   n=${rows.length} decode ${(1000 * sum(rows.map((r) => Math.max(0, r.tokens - 1))) / dms).toFixed(0)} tok/s, total ${total.toFixed(0)} ms; per file decode ms: ` +
        files.map((f) => `${f.path.split('/').pop()} ${sum(rows.filter((r) => r.file === f.path).map((r) => r.decodeMs)).toFixed(0)} (spec ${rows.filter((r) => r.file === f.path && r.mode === 'draft').length})`).join(', '));
    } else if (pattern === 'plain' || pattern === 'spec') {
      console.log(`${pattern.padEnd(6)} per file decode ms: ` + files.map((f) => `${f.path.split('/').pop()} ${sum(rows.filter((r) => r.file === f.path).map((r) => r.decodeMs)).toFixed(0)}`).join(', '));
    }
    for (const m of ['engine', 'none', 'draft', ...new Set(rows.map((r) => r.mode).filter((m) => m.startsWith('c')))]) {
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
  await engine?.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
