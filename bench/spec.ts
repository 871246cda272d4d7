// The speculative decoding benchmark (npm run bench:spec, or frspec bench spec): on N fill-in-the-middle
// prompts of a corpus, T new tokens each, greedy, CPU: our plain decoding; full-vocabulary speculation;
// FR-Spec at k = 8k/16k/32k/64k with the vocabulary counted from a training corpus and from the benchmark
// corpus itself ("your workspace"), and the training vocabulary plus the prompt's own ids; each for both
// drafters (draft model, EAGLE head), chain and tree; chains with context lookup first (prompt lookup for
// code, spec/lookup.h: "+ lookup" rows); and llama.cpp plain, speculative (node-llama-cpp's
// DraftSequenceTokenPredictor with the draft model) and with its prompt lookup (InputLookupTokenPredictor)
// on the same prompts in the same run.
// Configurations alternate prompt by prompt so machine load hits all of them alike. Every speculative
// output is checked token for token against our plain greedy output (a mismatch is reported as an error).
// Columns: tau, draft ms/step, verify ms/step, tokens/s (decode, after the first token), speed-up over
// our plain decoding and over llama.cpp's best.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpecEngine, type SpecGenerateOptions } from '../native/spec';
import { openTokenizer, type Tokenizer } from '../native/tokenizer';
import { buildVocab, defaultCacheFile } from '../vocab/build';
import { readVocab, writeVocab } from '../vocab/format';
import { packageRoot } from '../common/paths';
import { readJsonlCorpus } from '../common/corpus';
import { fimPrompts } from '../fixtures/fim-prompts';
import { LLAMA_CPP_VERSION, loadLlamaCpp } from './llama-cpp';
import { loadLlamaCppLookup, loadLlamaCppSpeculative } from './spec-llama';

export interface SpecBenchOptions {
  model: string;
  draft: string;
  eagle: string;
  corpus: string;
  prompts: number;
  /** Corpus the FR-Spec "train" vocabulary is counted from (default: none, only the workspace one). */
  vocabCorpus?: string;
  tokens: number;
  threads: number;
  ks: number[];
  /** Chain lengths (each a row group; the GEMM and head cost of a verify pass grow with it, τ saturates). */
  chains: number[];
  tree: Required<Pick<SpecGenerateOptions, 'depth' | 'branch' | 'beam' | 'nodes'>>;
  /** Context lookup's shortest n-gram for the "+ lookup" rows (0: no such rows); it proposes up to 4 tokens. */
  lookup: number;
  llamaCpp: boolean;
  /** Thread counts llama.cpp runs with (each a row pair; llama.cpp's best of them is the anchor). */
  llamaThreads: number[];
  /** Only configurations whose name contains one of these (plain always runs). */
  only?: string[];
}

export interface SpecBenchRow {
  name: string;
  drafter: string;
  vocab: string;
  k: number | null;
  shape: string;
  tau: number;
  draftMsPerStep: number;
  verifyMsPerStep: number;
  headRowsPerStep: number;
  /** Share of steps whose draft came from context lookup (null: no lookup in this configuration). */
  lookupShare: number | null;
  tokensPerSecond: number;
  speedupOverPlain: number;
  speedupOverLlamaCpp: number | null;
  mismatches: number;
}

export interface SpecBenchResult {
  machine: string;
  threads: number;
  loadAverage: [number, number];
  prompts: number;
  tokens: number;
  rows: SpecBenchRow[];
  /** The fastest speculative row; null when no speculative configuration ran (e.g. --only 'plain'). */
  best: SpecBenchRow | null;
  frBeatsFullVocabulary: boolean;
}

interface Config { name: string; drafter: string; vocab: string; k: number | null; shape: string; opts: SpecGenerateOptions | 'llama-plain' | 'llama-spec' | 'llama-lookup'; llama?: number }
interface Acc { rows: number; steps: number; emitted: number; draftMs: number; verifyMs: number; decodeMs: number; decoded: number; mismatches: number; lookupSteps: number }

/** A .frv counted from a corpus with the target's tokenizer, cached in .cache/spec-bench/. */
async function vocabFor(corpus: string, tok: Tokenizer, log: (s: string) => void): Promise<string> {
  const dir = path.join(packageRoot(), '.cache', 'spec-bench');
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `${path.basename(corpus).replace(/\W+/g, '-')}-${tok.fingerprint.slice(0, 12)}.frv`);
  const st = fs.statSync(corpus);
  const stamp = `${out}.stamp`;
  if (fs.existsSync(out) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === `${path.resolve(corpus)}:${st.size}:${st.mtimeMs}`) return out;
  log(`counting the vocabulary of ${corpus} ...`);
  const built = await buildVocab(corpus, tok, { cacheFile: defaultCacheFile(out, corpus, tok.fingerprint, dir) });
  writeVocab(out, built.vocab);
  fs.writeFileSync(stamp, `${path.resolve(corpus)}:${st.size}:${st.mtimeMs}`);
  return out;
}

function configs(o: SpecBenchOptions, vocabs: Array<[string, string]>): Config[] {
  const shapes: Array<[string, SpecGenerateOptions]> = [
    ...o.chains.map((n): [string, SpecGenerateOptions] => [`chain ${n}`, { chain: n }]),
    [`tree ${o.tree.depth}/${o.tree.branch}/${o.tree.beam}/${o.tree.nodes}`, { tree: true, ...o.tree }],
  ];
  const out: Config[] = [];
  for (const [drafter, dname] of [['draft', 'draft model'], ['eagle', 'EAGLE']] as const)
    for (const [sname, sopts] of shapes) {
      const base = { drafter: dname, shape: sname };
      out.push({ ...base, name: `${dname}, ${sname}, full vocab`, vocab: 'full', k: null, opts: { drafter, ...sopts } });
      for (const [vname, file] of vocabs)
        for (const k of o.ks) {
          out.push({ ...base, name: `${dname}, ${sname}, FR ${k / 1024}k ${vname}`, vocab: vname, k, opts: { drafter, ...sopts, vocab: file, vocabTopK: k } });
          if (vname === 'train' && (k === 8192 || k === 32768))
            out.push({ ...base, name: `${dname}, ${sname}, FR ${k / 1024}k train+prompt ids`, vocab: 'train+prompt', k,
              opts: { drafter, ...sopts, vocab: file, vocabTopK: k, contextTokens: true } });
        }
    }
  // Context lookup first, for greedy chains: the drafter runs only on steps without a match.
  if (o.lookup > 0) {
    const train = vocabs.find(([v]) => v === 'train')?.[1], workspace = vocabs.find(([v]) => v === 'workspace')?.[1];
    for (const [drafter, dname] of [['draft', 'draft model'], ['eagle', 'EAGLE']] as const)
      for (const n of o.chains) {
        const base = { drafter: dname, shape: `chain ${n} + lookup`, opts: { drafter, chain: n, lookup: o.lookup } };
        out.push({ ...base, name: `${dname}, chain ${n} + lookup, full vocab`, vocab: 'full', k: null });
        if (train) {
          out.push({ ...base, name: `${dname}, chain ${n} + lookup, FR 8k train`, vocab: 'train', k: 8192, opts: { ...base.opts, vocab: train, vocabTopK: 8192 } });
          out.push({ ...base, name: `${dname}, chain ${n} + lookup, FR 8k train+prompt ids`, vocab: 'train+prompt', k: 8192,
            opts: { ...base.opts, vocab: train, vocabTopK: 8192, contextTokens: true } });
        }
        if (workspace)
          out.push({ ...base, name: `${dname}, chain ${n} + lookup, FR 8k workspace`, vocab: 'workspace', k: 8192, opts: { ...base.opts, vocab: workspace, vocabTopK: 8192 } });
      }
  }
  const wanted = (c: Config) => !o.only || o.only.some((s) => c.name.includes(s));
  return out.filter(wanted);
}

export async function runSpecBench(o: SpecBenchOptions, log: (s: string) => void): Promise<SpecBenchResult> {
  const tok = openTokenizer(o.model);
  const prompts = await fimPrompts(readJsonlCorpus(o.corpus), tok, o.prompts);
  if (prompts.length < o.prompts) throw new Error(`${o.corpus} gives only ${prompts.length} FIM prompts, ${o.prompts} asked`);
  const vocabs: Array<[string, string]> = [];
  if (o.vocabCorpus) vocabs.push(['train', await vocabFor(o.vocabCorpus, tok, log)]);
  vocabs.push(['workspace', await vocabFor(o.corpus, tok, log)]);
  for (const [, f] of vocabs) readVocab(f, { name: o.model, tokenizer: tok });  // refuses another tokenizer early

  const maxPrompt = Math.max(...prompts.map((p) => p.tokens.length));
  const contextSize = maxPrompt + o.tokens + 64;
  const engine = await SpecEngine.load(o.model, { draft: o.draft, eagle: o.eagle, threads: o.threads, contextSize });
  const all: Config[] = [{ name: 'ours, plain decoding', drafter: '-', vocab: '-', k: null, shape: '-', opts: { drafter: 'none' } }, ...configs(o, vocabs)];
  const llamaPlain = new Map<number, Awaited<ReturnType<typeof loadLlamaCpp>>>();
  const llamaSpec = new Map<number, Awaited<ReturnType<typeof loadLlamaCppSpeculative>>>();
  const llamaLookup = new Map<number, Awaited<ReturnType<typeof loadLlamaCppLookup>>>();
  for (const t of o.llamaCpp ? o.llamaThreads : []) {
    llamaPlain.set(t, await loadLlamaCpp(o.model, t, contextSize));
    llamaSpec.set(t, await loadLlamaCppSpeculative(o.model, o.draft, t, contextSize));
    all.push({ name: `llama.cpp ${LLAMA_CPP_VERSION}, plain, ${t} threads`, drafter: '-', vocab: '-', k: null, shape: '-', opts: 'llama-plain', llama: t });
    all.push({ name: `llama.cpp ${LLAMA_CPP_VERSION}, draft model (DraftSequenceTokenPredictor), ${t} threads`, drafter: 'draft model', vocab: 'full',
      k: null, shape: 'chain <=16', opts: 'llama-spec', llama: t });
    if (o.lookup > 0) {
      llamaLookup.set(t, await loadLlamaCppLookup(o.model, t, contextSize, o.lookup));
      all.push({ name: `llama.cpp ${LLAMA_CPP_VERSION}, prompt lookup (InputLookupTokenPredictor), ${t} threads`, drafter: 'lookup', vocab: '-',
        k: null, shape: 'chain <=4', opts: 'llama-lookup', llama: t });
    }
  }
  // Every --only pattern must name a row: one that matches nothing (a "train" row without --vocab-corpus)
  // is a mistake to report now, not a table without the rows asked for.
  for (const s of o.only ?? []) {
    if (!all.some((c) => c.name.includes(s))) {
      throw new Error(`--only '${s}' matches no configuration${/train/.test(s) && !o.vocabCorpus ? ' (the "train" rows need --vocab-corpus)' : ''}`);
    }
  }
  const acc = new Map<Config, Acc>(all.map((c) => [c, { rows: 0, steps: 0, emitted: 0, draftMs: 0, verifyMs: 0, decodeMs: 0, decoded: 0, mismatches: 0, lookupSteps: 0 }]));
  const load0 = os.loadavg()[0];

  // The table so far (also printed every 10 prompts, so a run cut short still leaves its numbers).
  const summarize = (done: number): SpecBenchResult => {
    const tps = (a: Acc) => (a.decoded * 1000) / a.decodeMs;
    const plainTps = tps(acc.get(all[0])!);
    const llamaBest = o.llamaCpp ? Math.max(...all.filter((c) => typeof c.opts === 'string').map((c) => tps(acc.get(c)!))) : null;
    const rows: SpecBenchRow[] = all.map((c) => {
      const a = acc.get(c)!;
      return {
        name: c.name, drafter: c.drafter, vocab: c.vocab, k: c.k, shape: c.shape,
        // node-llama-cpp may report no prediction counts: then its tau is unknown
        tau: (c.opts === 'llama-spec' || c.opts === 'llama-lookup') && a.rows === 0 ? NaN : a.emitted / a.steps,
        draftMsPerStep: a.draftMs / a.steps, verifyMsPerStep: a.verifyMs / a.steps, headRowsPerStep: a.rows / a.steps,
        lookupShare: typeof c.opts === 'object' && c.opts.lookup ? a.lookupSteps / a.steps : null,
        tokensPerSecond: tps(a), speedupOverPlain: tps(a) / plainTps, speedupOverLlamaCpp: llamaBest ? tps(a) / llamaBest : null,
        mismatches: a.mismatches,
      };
    });
    const ours = rows.filter((r) => r.drafter !== '-' && !r.name.startsWith('llama.cpp'));
    const best = ours.length ? ours.reduce((x, y) => (y.tokensPerSecond > x.tokensPerSecond ? y : x)) : null;
    // The paper's claim, per drafter and shape: the best FR-Spec k beats the full vocabulary.
    const frBeats = ['draft model', 'EAGLE'].every((d) => [...new Set(ours.map((r) => r.shape))].every((s) => {
      const group = ours.filter((r) => r.drafter === d && r.shape === s);
      const full = group.find((r) => r.vocab === 'full');
      const fr = group.filter((r) => r.vocab !== 'full');
      return !full || !fr.length || Math.max(...fr.map((r) => r.tokensPerSecond)) > full.tokensPerSecond;
    }));
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    return {
      machine: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} (shared machine)`,
      threads: o.threads, loadAverage: [load0, os.loadavg()[0]], prompts: done, tokens: o.tokens, rows, best,
      frBeatsFullVocabulary: frBeats,
    };
  };

  // Warm-up: page the weights in and let every head be gathered once.
  for (const c of all) if (typeof c.opts === 'object') await engine.generate(prompts[0].tokens, { ...c.opts, maxTokens: 4 });
  for (const m of llamaPlain.values()) await m.greedy(prompts[0].tokens, 4, false);
  for (const m of [...llamaSpec.values(), ...llamaLookup.values()]) await m.greedy(prompts[0].tokens, 4);

  for (let i = 0; i < prompts.length; i++) {
    const prompt = prompts[i].tokens;
    let plain: Int32Array | undefined;
    for (const c of all) {
      const a = acc.get(c)!;
      if (c.opts === 'llama-plain') {
        const r = await llamaPlain.get(c.llama!)!.greedy(prompt, o.tokens, false);
        a.rows += r.decodeSteps + 1; a.steps += r.decodeSteps + 1; a.emitted += r.decodeSteps + 1; a.verifyMs += r.decodeMs; a.decodeMs += r.decodeMs; a.decoded += r.tokens.length - 1;
      } else if (c.opts === 'llama-spec' || c.opts === 'llama-lookup') {
        const r = await (c.opts === 'llama-spec' ? llamaSpec : llamaLookup).get(c.llama!)!.greedy(prompt, o.tokens);
        a.rows += r.validated + r.refuted;
        a.decodeMs += r.decodeMs; a.decoded += r.tokens.length - 1;
        a.steps += r.tokens.length - r.validated; a.emitted += r.tokens.length;  // each target pass emits its validated drafts + 1
      } else {
        const r = await engine.generate(prompt, { ...c.opts, maxTokens: o.tokens });
        if (c.opts.drafter === 'none') plain = r.tokens;
        else if (plain && (r.tokens.length !== plain.length || r.tokens.some((t, j) => t !== plain![j]))) a.mismatches++;
        a.rows += r.verifyRows; a.steps += r.steps; a.emitted += r.tau * r.steps; a.draftMs += r.draftMs; a.verifyMs += r.verifyMs;
        a.lookupSteps += r.lookupSteps;
        a.decodeMs += r.totalMs - r.promptMs; a.decoded += r.tokens.length - 1;
      }
    }
    log(`prompt ${i + 1}/${prompts.length} done (${prompts[i].path}, ${prompt.length} tokens)`);
    if ((i + 1) % 10 === 0 && i + 1 < prompts.length) log(`after ${i + 1} prompts:\n${specBenchTable(summarize(i + 1))}`);
  }
  await engine.close();
  for (const m of [...llamaPlain.values(), ...llamaSpec.values(), ...llamaLookup.values()]) await m.close();
  return summarize(prompts.length);
}

/** The result as a Markdown table. */
export function specBenchTable(r: SpecBenchResult): string {
  const f = (x: number | null, d = 2) => (x === null || !Number.isFinite(x) ? '—' : x.toFixed(d));
  const lines = [
    `${r.prompts} FIM prompts x ${r.tokens} new tokens, greedy, ${r.threads} threads; ${r.machine}; load average ${r.loadAverage.map((x) => x.toFixed(1)).join(' -> ')}`,
    '',
    '| configuration | τ | draft ms/step | verify ms/step | LM-head rows/step | steps from lookup | tokens/s | × our plain | × llama.cpp best | output ≠ plain |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map((x) => `| ${x.name} | ${f(x.tau)} | ${f(x.draftMsPerStep)} | ${f(x.verifyMsPerStep)} | ${x.name.startsWith('llama.cpp') ? '—' : f(x.headRowsPerStep, 1)} | ${x.lookupShare === null ? '—' : `${(100 * x.lookupShare).toFixed(0)}%`} | ${f(x.tokensPerSecond, 1)} | ${f(x.speedupOverPlain)} | ${f(x.speedupOverLlamaCpp)} | ${x.name.startsWith('llama.cpp') ? '—' : x.mismatches} |`),
    '',
    r.best ? `best: ${r.best.name} — ${r.best.tokensPerSecond.toFixed(1)} tokens/s, ${r.best.speedupOverPlain.toFixed(2)}× our plain` +
      (r.best.speedupOverLlamaCpp ? `, ${r.best.speedupOverLlamaCpp.toFixed(2)}× llama.cpp's best` : '') : 'best: no speculative configuration ran',
    `FR-Spec faster than the full vocabulary for every drafter and shape: ${r.frBeatsFullVocabulary ? 'yes' : 'no'}`,
  ];
  return lines.join('\n');
}
