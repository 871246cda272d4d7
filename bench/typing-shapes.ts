// Acceptance per draft position and per-step costs of speculative shapes on the typing benchmark's own requests
// (every keystroke's prompt as `frspec bench typing` builds it, decoded to the end, 12 tokens), each request run
// by every shape in turn on one engine (plain too: 'plain'), so load hits them alike. A shape: [e]cCHAINlNGRAM[xTOKENS][hN][kK]
// (e: the EAGLE head, else the draft model; lookup n-gram 0 = off; hN: the lookup also searches the shape's last N
// completions, as the sidecar's RecentCompletions) or [e]tDEPTH,BRANCH,BEAM,NODES[kK]; k: FR-Spec top-k.
//   SHAPES='plain;c3l0k8192;c3l3x4k8192' FILES=5 VOCAB=V.frv [MAX_TOKENS=12] npx tsx bench/typing-shapes.ts
import { packageRoot } from '../common/paths';
import { SpecEngine } from '../native/spec';
import { openTokenizer } from '../native/tokenizer';
import { encodePrompt, specialTexts } from '../sidecar/prompt';
import { demoModelPath } from '../common/models';
import { request, walks, type TypingOptions } from './typing';
import { RecentCompletions } from '../sidecar/recent-completions';
const root = packageRoot();
const model = demoModelPath(root, 'demo-target')!, draft = demoModelPath(root, 'demo-draft')!;
const o: TypingOptions = { model, corpus: `${root}/../shared/corpus/dev.jsonl.xz`, files: Number(process.env.FILES ?? 5), keystrokes: 20, bursts: 3,
  paceMs: 0, pauseMs: 0, prefixChars: 1500, suffixChars: 500, maxTokens: Number(process.env.MAX_TOKENS ?? 12), timeBudgetMs: 0, threads: 2, contextSize: 4096, sidecarEntry: '', llamaCpp: false };
const shapes = (process.env.SHAPES ?? 'c3l0').split(';');
async function main() {
  const tok = openTokenizer(model);
  const files = await walks(o);
  const spec = await SpecEngine.load(model, { draft, eagle: demoModelPath(root, 'demo-eagle')!, threads: 2, contextSize: 4096 });
  const specials = specialTexts(tok);
  const agg: Record<string, any> = {};
  for (const s of shapes) agg[s] = { tokens: 0, steps: 0, drafted: [] as number[], accepted: [] as number[], lookupSteps: 0, draftMs: 0, verifyMs: 0, decodeMs: 0, layersMs: 0, n: 0, plainMs: 0, plainTok: 0 };
  const perFile = process.env.PERFILE === '1';
  const fresh = () => ({ tokens: 0, steps: 0, drafted: [] as number[], accepted: [] as number[], lookupSteps: 0, draftMs: 0, verifyMs: 0, decodeMs: 0, layersMs: 0, n: 0, draftPromptMs: 0 });
  const byFile: Record<string, Record<string, ReturnType<typeof fresh>>> = {};
  const recent: Record<string, RecentCompletions> = {};
  for (const s of shapes) { const h = /h(\d+)/.exec(s); if (h) recent[s] = new RecentCompletions(Number(h[1])); }
  for (const f of files) for (const keys of f.bursts) for (const k of keys) {
    const p = request(k, f, specials, o);
    const ids = encodePrompt(tok, p.parts, { maxPromptTokens: 1 << 30, maxPromptChars: 1 << 30, maxTokens: o.maxTokens });
    for (const s of shapes) {
      if (s === 'plain') {
        const r = await spec.generate(ids, { drafter: 'none', maxTokens: o.maxTokens, stopTokens: tok.specials.eog });
        for (const a of [agg[s], fileAgg(f.path, s)]) { a.n++; a.tokens += r.tokens.length; a.steps += r.steps; a.verifyMs += r.verifyMs; a.decodeMs += r.decodeMs; a.layersMs += r.verifyLayersMs; }
        continue;
      }
      const drafter = s.startsWith('e') ? 'eagle' : 'draft';
      const topk = Number(/k(\d+)$/.exec(s)?.[1] ?? 32768);
      const t = /t(\d+),(\d+),(\d+),(\d+)/.exec(s);
      const m = /c(\d+)l(\d+)(?:x(\d+))?/.exec(s);
      const shape = t ? { tree: true, depth: Number(t[1]), branch: Number(t[2]), beam: Number(t[3]), nodes: Number(t[4]) }
        : { chain: Number(m![1]), lookup: Number(m![2]), lookupTokens: Number(m![3] ?? 4) };
      const history = recent[s]?.history();
      const r = await spec.generate(ids, { drafter, maxTokens: o.maxTokens, stopTokens: tok.specials.eog, vocab: process.env.VOCAB ?? '/tmp/drafter-dev.frv', vocabTopK: topk, contextTokens: true, ...shape, draftWindow: 256, ...(history ? { lookupHistory: history } : {}) });
      recent[s]?.add(ids, r.tokens);
      for (const a of [agg[s], fileAgg(f.path, s)]) {
        a.n++; a.tokens += r.tokens.length; a.steps += r.steps; a.lookupSteps += r.lookupSteps; a.draftMs += r.draftMs; a.verifyMs += r.verifyMs; a.decodeMs += r.decodeMs; a.layersMs += r.verifyLayersMs;
        a.draftPromptMs += r.draftPromptMs;
        r.draftedAt.forEach((x, i) => a.drafted[i] = (a.drafted[i] ?? 0) + x);
        r.acceptedAt.forEach((x, i) => a.accepted[i] = (a.accepted[i] ?? 0) + x);
      }
    }
  }
  function fileAgg(file: string, s: string) {
    byFile[file] ??= {};
    return byFile[file][s] ??= fresh();
  }
  // PERFILE=1: each file's τ and decode ms per shape, and its decode ratio against 'plain' (when run).
  if (perFile) for (const [file, m] of Object.entries(byFile)) {
    const plain = m.plain?.decodeMs;
    console.log(`${file}: ${shapes.map((s) => `${s} tau ${(m[s].tokens / m[s].steps).toFixed(2)} ${m[s].decodeMs.toFixed(0)} ms${plain && s !== 'plain' ? ` (${(plain / m[s].decodeMs).toFixed(2)}x)` : ''}`).join(', ')}`);
  }
  for (const s of shapes) {
    const a = agg[s];
    console.log(`${s}: n=${a.n} tau ${(a.tokens / a.steps).toFixed(2)} steps ${a.steps} lookup ${a.lookupSteps} draft ${(a.draftMs / a.steps).toFixed(2)} verify ${(a.verifyMs / a.steps).toFixed(2)} (layers ${(a.layersMs / a.steps).toFixed(2)}) ms/step, decode ${a.decodeMs.toFixed(0)} ms, acc/drafted by pos: ${a.drafted.map((d: number, i: number) => `${a.accepted[i]}/${d}`).join(' ')}`);
  }
  await spec.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
