// Does definitions context help? First-line exact match (and softer measures) of greedy completions on dev FIM
// prompts built by the extension's own prompt builder, without and with the definitions of the identifiers
// before the cursor, within the same context budget (issue 15, "Context").
//
// Each prompt: a dev file (../shared/corpus/dev.jsonl.xz) with the cursor at the start of a non-blank line
// (at 1/3 and 2/3 of the file); that line is removed (the user has not written it yet) and is the truth. The
// prompt is what extension/providers/inline-completion.ts sends: prefixWindow(4000) / suffixWindow(1000)
// (context/windows.ts), recent-file chunks (context/recent-files.ts: the up to 3 other files of the same
// folder, from dev and train, as if the user had them open, each around its middle), buildFimPrompt
// (prompt/templates.ts, the model's own layout: repository-level for Qwen-style specials), encoded as the
// sidecar encodes it (sidecar/prompt.ts).
//   without: the recent files get the whole budget (contextFiles 3 × contextChunkChars 1200);
//   with:    definitions get definitionBudget() (half) and recent files shareContextBudget() of the rest —
//            the extension's split once a file's language server answers — and the definitions are chosen by
//            identifiersBeforeCursor() and selectDefinitionChunks() (context/definitions.ts), each read with
//            definitionText() from its declaration line (15 lines / 800 characters, as for a Location).
// Definitions cannot come from a language server here: bench/declarations.ts finds declarations by their
// shape (ctags-like regular expressions). Lookup: the current file as the user sees it (the truth line
// removed; the last declaration above the identifier, else the first below), else a file of the same folder,
// else of the same project (first path component; two for ts/<package>), among train ∪ dev files of the
// same language: the project the dev file comes from, as a workspace.
//
// Per prompt and condition: greedy completion (maxTokens 40) → its first line: exact match (trailing spaces
// ignored), edit similarity (1 − Levenshtein / longer length), first-token match; and the truth line's mean
// log-probability per token under the model (teacher-forced: the most sensitive measure). 95% intervals:
// Wilson for each exact-match share; paired bootstrap (2000 resamples over prompts) for the differences.
//
//   npx tsx bench/definitions-context.ts [--models demo-target,demo-draft] [--prompts 300] [--threads 2]
//     [--json-out bench/results/definitions-context-DATE.json]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../native/engine';
import { openTokenizer, type Tokenizer } from '../native/tokenizer';
import { encodePrompt, specialTexts } from '../sidecar/prompt';
import { definitionBudget, definitionText, type DefinitionSnippet, identifiersBeforeCursor, selectDefinitionChunks, shareContextBudget } from '../extension/context/definitions';
import { RecentFiles } from '../extension/context/recent-files';
import { prefixWindow, suffixWindow } from '../extension/context/windows';
import { buildFimPrompt, buildPlainPrompt, fimCapabilities, lineCommentFor, type FimInput } from '../extension/prompt/templates';
import { declarations } from './declarations';
import { demoModel, sharedDir } from '../common/shared-data';
import { type CorpusFile, readJsonlCorpus } from '../common/corpus';

const { values: a } = parseArgs({
  options: {
    models: { type: 'string', default: 'demo-target,demo-draft' }, prompts: { type: 'string', default: '300' },
    threads: { type: 'string', default: '2' }, 'json-out': { type: 'string' }, 'dry-run': { type: 'boolean', default: false },
  },
});

// The extension's defaults (package.json): frspec.prefixChars, suffixChars, contextFiles, contextChunkChars.
const PREFIX_CHARS = 4000, SUFFIX_CHARS = 1000, CONTEXT_FILES = 3, CHUNK_CHARS = 1200;
const MAX_TOKENS = 40;

/** The project a corpus path belongs to: its first component (two for the npm packages under ts/). */
const projectOf = (p: string) => p.split('/').slice(0, p.startsWith('ts/') ? 2 : 1).join('/');

/** name → where it is declared, per language, over the workspace files (built once, lazily). */
class DeclarationIndex {
  private readonly byLang = new Map<string, Map<string, { file: CorpusFile; line: number }[]>>();
  constructor(private readonly files: CorpusFile[]) {}
  find(name: string, lang: string): { file: CorpusFile; line: number }[] {
    let idx = this.byLang.get(lang);
    if (!idx) {
      idx = new Map();
      for (const f of this.files) {
        if (f.lang !== lang) continue;
        for (const d of declarations(f.text, lang)) {
          const list = idx.get(d.name) ?? [];
          if (list.length < 64) list.push({ file: f, line: d.line });
          idx.set(d.name, list);
        }
      }
      this.byLang.set(lang, idx);
    }
    return idx.get(name) ?? [];
  }
}

/** What the language server would answer for the identifiers before the cursor (see the header). */
type Source = 'same file' | 'same folder' | 'same project';
function definitionsAt(doc: string, offset: number, file: CorpusFile, index: DeclarationIndex, sources: Record<Source, number>): DefinitionSnippet[] {
  const local = declarations(doc, file.lang);
  const out: DefinitionSnippet[] = [];
  for (const id of identifiersBeforeCursor(doc, offset)) {
    const idLine = doc.slice(0, id.offset).split('\n').length - 1;
    const here = local.filter((d) => d.name === id.name && d.line !== idLine);
    const above = here.filter((d) => d.line < idLine);
    const pick = above.length ? above[above.length - 1] : here[0];
    if (pick) { out.push({ name: id.name, path: file.path, line: pick.line, text: definitionText(doc, pick.line, pick.line + 14) }); sources['same file']++; continue; }
    const dir = path.dirname(file.path), project = projectOf(file.path);
    const elsewhere = index.find(id.name, file.lang).filter((c) => c.file.path !== file.path && projectOf(c.file.path) === project);
    const best = elsewhere.find((c) => path.dirname(c.file.path) === dir) ?? elsewhere[0];
    if (!best) continue;
    out.push({ name: id.name, path: best.file.path, line: best.line, text: definitionText(best.file.text, best.line, best.line + 14) });
    sources[path.dirname(best.file.path) === dir ? 'same folder' : 'same project']++;
  }
  return out;
}

/** 1 − Levenshtein distance / the longer length (1 for two empty strings). */
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

/** Wilson 95% interval of k successes in n. */
function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 0];
  const z = 1.96, p = k / n, d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d, h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** Mean of with − without and its paired bootstrap 95% interval (deterministic resampling). */
function pairedDiff(without: number[], withDefs: number[]): { mean: number; ci: [number, number] } {
  const n = without.length, d = without.map((x, i) => withDefs[i] - x);
  const mean = d.reduce((s, x) => s + x, 0) / Math.max(1, n);
  let seed = 0x9e3779b9;
  const rnd = () => { seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const means: number[] = [];
  for (let b = 0; b < 2000 && n > 0; b++) { let s = 0; for (let i = 0; i < n; i++) s += d[Math.floor(rnd() * n)]; means.push(s / n); }
  means.sort((x, y) => x - y);
  return { mean, ci: n ? [means[Math.floor(0.025 * means.length)], means[Math.ceil(0.975 * means.length) - 1]] : [0, 0] };
}

interface PromptCase { file: CorpusFile; truth: string; doc: string; offset: number; recent: RecentFiles; defs: DefinitionSnippet[]; visible: [number, number]; prefix: string; suffix: string }

/** The dev prompts: cursor at 1/3 and 2/3 of each file with at least 12 lines, on a non-blank line. */
function makeCases(dev: CorpusFile[], all: CorpusFile[], index: DeclarationIndex, max: number, sources: Record<Source, number>): PromptCase[] {
  const byDir = new Map<string, CorpusFile[]>();
  for (const f of all) { const k = `${f.lang}:${path.dirname(f.path)}`; const l = byDir.get(k) ?? []; l.push(f); byDir.set(k, l); }
  const cases: PromptCase[] = [];
  for (const f of dev) {
    const lines = f.text.split('\n');
    if (lines.length < 12) continue;
    for (const frac of [1 / 3, 2 / 3]) {
      let cut = Math.floor(lines.length * frac);
      while (cut < lines.length - 1 && lines[cut].trim().length < 2) cut++;
      const truth = lines[cut].trimEnd();
      if (truth.trim().length < 2) continue;
      const before = lines.slice(0, cut).join('\n') + '\n', after = lines.slice(cut + 1).join('\n');
      const doc = before + after, offset = before.length;
      const prefix = prefixWindow(before, PREFIX_CHARS), suffix = suffixWindow(after, SUFFIX_CHARS);
      const lineOf = (o: number) => doc.slice(0, o).split('\n').length - 1;
      const visible: [number, number] = [lineOf(offset - prefix.length), lineOf(offset + suffix.length)];
      // The other files of the folder, as if open in the editor (each touched at its middle; same order every run).
      const recent = new RecentFiles();
      const neighbours = (byDir.get(`${f.lang}:${path.dirname(f.path)}`) ?? []).filter((o) => o.path !== f.path).slice(0, CONTEXT_FILES);
      neighbours.forEach((o, i) => recent.touch(o.path, o.text, Math.floor(o.text.length / 2), i));
      cases.push({ file: f, truth, doc, offset, recent, defs: definitionsAt(doc, offset, f, index, sources), visible, prefix, suffix });
      if (cases.length >= max) return cases;
    }
  }
  return cases;
}

function promptOf(c: PromptCase, withDefs: boolean, tok: Tokenizer): { ids: Int32Array; defChunks: number } {
  const defBudget = withDefs ? definitionBudget(CONTEXT_FILES, CHUNK_CHARS) : 0;
  const share = shareContextBudget(CONTEXT_FILES, CHUNK_CHARS, defBudget);
  const defs = withDefs ? selectDefinitionChunks(c.defs, c.file.path, c.visible, defBudget) : [];
  const input: FimInput = {
    prefix: c.prefix, suffix: c.suffix, path: c.file.path, repoName: projectOf(c.file.path), lineComment: lineCommentFor(c.file.lang),
    chunks: [...c.recent.chunks(c.file.path, share.recentFiles, share.recentChunkChars), ...defs],
  };
  const caps = fimCapabilities(specialTexts(tok));
  const parts = caps ? buildFimPrompt(caps, input) : buildPlainPrompt(input);
  return { ids: encodePrompt(tok, parts, { maxPromptTokens: 1 << 20, maxPromptChars: 1 << 24, maxTokens: MAX_TOKENS }), defChunks: defs.length };
}

interface Outcome { exact: number; es: number; firstToken: number; logProb: number; promptTokens: number; defChunks: number }

async function run(engine: Engine, tok: Tokenizer, c: PromptCase, withDefs: boolean): Promise<Outcome> {
  const { ids, defChunks } = promptOf(c, withDefs, tok);
  const truthIds = tok.encode(`${c.truth}\n`);
  const r = await engine.generate(ids, { maxTokens: MAX_TOKENS, stopTokens: tok.specials.eog });
  const first = tok.decode(r.tokens).toString().split('\n')[0].trimEnd();
  // The truth line's log-probability: the prompt's last token and the truth (but its last token) in one pass.
  await engine.truncate(ids.length - 1);
  const ev = await engine.eval([ids[ids.length - 1], ...truthIds.slice(0, -1)], { logits: 'all' });
  let lp = 0;
  for (let i = 0; i < truthIds.length; i++) {
    const row = ev.logits.subarray(i * ev.vocab, (i + 1) * ev.vocab);
    let max = -Infinity; for (const v of row) if (v > max) max = v;
    let sum = 0; for (const v of row) sum += Math.exp(v - max);
    lp += row[truthIds[i]] - max - Math.log(sum);
  }
  return { exact: first === c.truth ? 1 : 0, es: editSimilarity(first, c.truth), firstToken: r.tokens.length > 0 && r.tokens[0] === truthIds[0] ? 1 : 0, logProb: lp / truthIds.length, promptTokens: ids.length, defChunks };
}

async function main() {
  if (!sharedDir()) throw new Error('../shared is absent: the demo models and the corpus live there');
  const t0 = Date.now();
  const dev: CorpusFile[] = [], all: CorpusFile[] = [];
  for await (const f of readJsonlCorpus(path.join(sharedDir()!, 'corpus', 'dev.jsonl.xz'))) { dev.push(f); all.push(f); }
  for await (const f of readJsonlCorpus(path.join(sharedDir()!, 'corpus', 'train.jsonl.xz'))) all.push(f);
  const index = new DeclarationIndex(all);
  const sources: Record<Source, number> = { 'same file': 0, 'same folder': 0, 'same project': 0 };
  const cases = makeCases(dev, all, index, Number(a.prompts), sources);
  console.log(`${cases.length} dev FIM prompts (${dev.length} dev files; workspace ${all.length} train ∪ dev files), cases built in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
    `definitions found (before the budget and the visible-window rule): ${Object.entries(sources).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  if (a['dry-run']) return;
  const results = [];
  for (const name of a.models!.split(',')) {
    const model = (name === 'demo-target' || name === 'demo-draft' ? demoModel(name) : undefined) ?? name;
    const tok = openTokenizer(model);
    const engine = await Engine.load(model, { threads: Number(a.threads), contextSize: 4096 });
    const without: Outcome[] = [], withDefs: Outcome[] = [];
    const started = Date.now();
    try {
      for (const c of cases) { without.push(await run(engine, tok, c, false)); withDefs.push(await run(engine, tok, c, true)); }
    } finally {
      await engine.close();
    }
    const n = cases.length, sum = (xs: Outcome[], k: keyof Outcome) => xs.reduce((s, x) => s + x[k], 0);
    const withAny = withDefs.map((o, i) => (o.defChunks > 0 ? i : -1)).filter((i) => i >= 0);
    const condition = (xs: Outcome[]) => ({
      exact: sum(xs, 'exact'), exactMatch: sum(xs, 'exact') / n, exactCi95: wilson(sum(xs, 'exact'), n),
      firstToken: sum(xs, 'firstToken'), firstTokenMatch: sum(xs, 'firstToken') / n, firstTokenCi95: wilson(sum(xs, 'firstToken'), n),
      editSimilarity: sum(xs, 'es') / n, meanLogProbPerToken: sum(xs, 'logProb') / n, meanPromptTokens: sum(xs, 'promptTokens') / n,
    });
    const diff = (k: keyof Outcome, idx?: number[]) => {
      const pick = (xs: Outcome[]) => (idx ? idx.map((i) => xs[i]) : xs).map((o) => o[k]);
      return pairedDiff(pick(without), pick(withDefs));
    };
    const res = {
      model: path.basename(model), prompts: n, seconds: (Date.now() - started) / 1000,
      promptsWithDefinitions: withAny.length, meanDefinitionChunks: sum(withDefs, 'defChunks') / n,
      without: condition(without), with: condition(withDefs),
      difference: { exactMatch: diff('exact'), firstTokenMatch: diff('firstToken'), editSimilarity: diff('es'), logProbPerToken: diff('logProb') },
      differenceWhereDefinitionsWereAdded: { prompts: withAny.length, exactMatch: diff('exact', withAny), editSimilarity: diff('es', withAny), logProbPerToken: diff('logProb', withAny) },
    };
    results.push(res);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`, ci = (c: [number, number], f = pct) => `[${f(c[0])}, ${f(c[1])}]`;
    const num = (x: number) => x.toFixed(3);
    console.log(`\n${res.model}: ${n} prompts, ${withAny.length} with at least one definition (mean ${res.meanDefinitionChunks.toFixed(2)} chunks), ${res.seconds.toFixed(0)} s`);
    for (const [label, c] of [['without definitions', res.without], ['with definitions', res.with]] as const) {
      console.log(`  ${label.padEnd(20)} first-line exact ${c.exact}/${n} = ${pct(c.exactMatch)} ${ci(c.exactCi95)}; first token ${c.firstToken}/${n} = ${pct(c.firstTokenMatch)} ${ci(c.firstTokenCi95)}; ` +
        `edit sim. ${pct(c.editSimilarity)}; truth log-prob/token ${num(c.meanLogProbPerToken)}; prompt ${c.meanPromptTokens.toFixed(0)} tokens`);
    }
    const d = res.difference;
    console.log(`  with − without (paired, 95% bootstrap): exact ${pct(d.exactMatch.mean)} ${ci(d.exactMatch.ci)}, first token ${pct(d.firstTokenMatch.mean)} ${ci(d.firstTokenMatch.ci)}, ` +
      `edit sim. ${pct(d.editSimilarity.mean)} ${ci(d.editSimilarity.ci)}, log-prob/token ${num(d.logProbPerToken.mean)} ${ci(d.logProbPerToken.ci, num)}`);
    const w = res.differenceWhereDefinitionsWereAdded;
    console.log(`  only the ${w.prompts} prompts that got definitions: exact ${pct(w.exactMatch.mean)} ${ci(w.exactMatch.ci)}, edit sim. ${pct(w.editSimilarity.mean)} ${ci(w.editSimilarity.ci)}, log-prob/token ${num(w.logProbPerToken.mean)} ${ci(w.logProbPerToken.ci, num)}`);
  }
  const out = {
    command: `npx tsx bench/definitions-context.ts ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model} x${os.cpus().length}`, loadavg: os.loadavg(), threads: Number(a.threads), maxTokens: MAX_TOKENS, definitionsFound: sources,
    budget: { prefixChars: PREFIX_CHARS, suffixChars: SUFFIX_CHARS, contextFiles: CONTEXT_FILES, contextChunkChars: CHUNK_CHARS, definitionChars: definitionBudget(CONTEXT_FILES, CHUNK_CHARS) },
    results,
  };
  if (a['json-out']) { fs.mkdirSync(path.dirname(a['json-out']), { recursive: true }); fs.writeFileSync(a['json-out'], `${JSON.stringify(out, null, 2)}\n`); console.log(`\nwrote ${a['json-out']}`); }
}

main().catch((e) => { console.error(`definitions-context: ${(e as Error).stack ?? e}`); process.exit(1); });
