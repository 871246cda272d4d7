// Benchmark of the vocabulary builder on the shared corpus (npm run bench:vocab [-- --model M.gguf] [--json]):
//  1. build from train.jsonl.xz and from dev.jsonl.xz (each JSON line a file): throughput, top-k coverage;
//     beside it, the baseline of the same tokenizer encoding the same texts from memory (no builder);
//  2. transfer: the share of the DEV split's tokens covered by the TRAIN-built top-k (unseen code);
//  3. incremental: train written out as a folder, built with a cold cache, rebuilt unchanged, and rebuilt
//     after editing one file; the edited rebuild is checked against cold counts − old file + new file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openTokenizer } from '../native/tokenizer';
import { demoModel, sharedDir } from '../common/shared-data';
import { buildVocab, type BuildResult } from '../vocab/build';
import { readJsonlCorpus } from '../common/corpus';
import { coverage, transferCoverage } from '../vocab/rank';
import { skipByName, skipByText } from '../vocab/rules';
import type { CountingTokenizer } from '../vocab/tokenizer';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Wall-clock and CPU seconds of f (CPU time says more than wall time on a busy shared machine). */
async function timed<T>(f: () => Promise<T>): Promise<{ value: T; seconds: number; cpuSeconds: number }> {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const value = await f();
  const used = process.cpuUsage(cpu);
  return { value, seconds: (performance.now() - t) / 1000, cpuSeconds: +((used.user + used.system) / 1e6).toFixed(3) };
}

function throughput(r: BuildResult, seconds: number) {
  const c = r.vocab.corpus;
  return { seconds: +seconds.toFixed(3), files: c.files, mb: +(c.bytes / 1e6).toFixed(2), tokens: c.tokens, mbPerSec: +(c.bytes / 1e6 / seconds).toFixed(2), tokensPerSec: Math.round(c.tokens / seconds) };
}

/** The baseline: the tokenizer alone over the same texts, already in memory (what any builder must pay). */
async function tokenizeOnly(tok: CountingTokenizer, corpus: string): Promise<{ seconds: number; mbPerSec: number }> {
  const texts: string[] = [];
  for await (const f of readJsonlCorpus(corpus)) texts.push(f.text);
  let bytes = 0;
  const t = performance.now();
  for (const text of texts) { tok.encode(text); bytes += Buffer.byteLength(text); }
  const seconds = (performance.now() - t) / 1000;
  return { seconds: +seconds.toFixed(3), mbPerSec: +(bytes / 1e6 / seconds).toFixed(2) };
}

/** Writes every corpus line to `dir/<path>`; returns the paths written. */
async function materialize(corpus: string, dir: string): Promise<string[]> {
  const written: string[] = [];
  for await (const f of readJsonlCorpus(corpus)) {
    const out = path.join(dir, f.path);
    if (!out.startsWith(dir + path.sep)) continue;  // never write outside the temp folder
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, f.text);
    written.push(f.path);
  }
  return written;
}

async function incremental(tok: CountingTokenizer, trainCorpus: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-bench-vocab-'));
  try {
    const tree = path.join(dir, 'tree');
    const written = await materialize(trainCorpus, tree);
    await new Promise((r) => setTimeout(r, 200));  // let every file age past the racy-timestamp window
    const cacheFile = path.join(dir, 'counts.cache');
    const cold = await timed(() => buildVocab(tree, tok, { cacheFile }));
    const unchanged = await timed(() => buildVocab(tree, tok, { cacheFile }));
    // Edit one counted file (the middle one): append a function.
    const counted = written.filter((p) => skipByName(p) === undefined && skipByText(fs.readFileSync(path.join(tree, p), 'utf8')) === undefined);
    const edited = counted[Math.floor(counted.length / 2)];
    const file = path.join(tree, edited);
    const before = fs.readFileSync(file, 'utf8');
    const after = before + '\n\nfunction frspecBenchEdit(x) { return x * 42; }\n';
    fs.writeFileSync(file, after);
    await new Promise((r) => setTimeout(r, 200));  // an edit a moment ago, as when a user saves and rebuilds
    const edit = await timed(() => buildVocab(tree, tok, { cacheFile }));
    // Exactness: the edited rebuild = cold totals − old file's tokens + new file's tokens.
    const expected = Float64Array.from(cold.value.totals);
    for (const id of tok.encode(before)) expected[id]--;
    for (const id of tok.encode(after)) expected[id]++;
    const exact = expected.every((c, id) => c === edit.value.totals[id]);
    if (!exact) throw new Error('incremental rebuild differs from cold counts adjusted by the edit');
    return {
      files: cold.value.vocab.corpus.files, folderCold: throughput(cold.value, cold.seconds),
      rebuildUnchangedSeconds: +unchanged.seconds.toFixed(3), rebuildUnchangedCpuSeconds: unchanged.cpuSeconds,
      rebuildAfterEditSeconds: +edit.seconds.toFixed(3), rebuildAfterEditCpuSeconds: edit.cpuSeconds,
      tokenizedAfterEdit: edit.value.filesTokenized, exact, cacheBytes: fs.statSync(cacheFile).size, editedFile: edited,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const modelArg = argv.indexOf('--model');
  const shared = sharedDir();
  if (!shared) {
    console.log('bench:vocab skipped: ../shared (corpus and demo models) is absent');
    if (json) console.log(JSON.stringify({ ok: true, skipped: '../shared is absent' }));
    return 0;
  }
  const model = modelArg >= 0 ? argv[modelArg + 1] : demoModel('demo-target')!;
  const train = path.join(shared, 'corpus', 'train.jsonl.xz');
  const dev = path.join(shared, 'corpus', 'dev.jsonl.xz');
  const tok = openTokenizer(model);
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)} (shared machine: timings vary)`;
  console.log(`bench:vocab on ${machine}\nmodel ${model} (tokenizer ${tok.fingerprint}, pre ${tok.pre})`);

  const results: Record<string, unknown> = { machine, model };
  const builds: Record<string, BuildResult> = {};
  const coverages: Record<string, { k: number; share: number }[]> = {};
  console.log('\ncorpus  files  MB      tokens      build s  MB/s    tokens/s   | tokenizer alone, in memory: s  MB/s');
  for (const [name, corpus] of [['train', train], ['dev', dev]] as const) {
    const b = await timed(() => buildVocab(corpus, tok));
    const baseline = await tokenizeOnly(tok, corpus);
    builds[name] = b.value;
    const t = throughput(b.value, b.seconds);
    coverages[name] = coverage(b.value.vocab.counts, b.value.vocab.corpus.tokens);
    results[name] = { build: t, tokenizeOnly: baseline, skipped: b.value.skipped, distinct: b.value.vocab.ids.length - b.value.vocab.forced, coverage: coverages[name] };
    console.log(`${name.padEnd(6)}  ${String(t.files).padStart(5)}  ${t.mb.toFixed(2).padStart(6)}  ${String(t.tokens).padStart(10)}  ${t.seconds.toFixed(3).padStart(7)}  ${t.mbPerSec.toFixed(2).padStart(6)}  ${String(t.tokensPerSec).padStart(9)}  |  ${baseline.seconds.toFixed(3).padStart(28)}  ${baseline.mbPerSec.toFixed(2)}`);
  }
  for (const name of ['train', 'dev']) console.log(`${name} skipped: ${JSON.stringify(builds[name].skipped)}; distinct ids: ${(results[name] as { distinct: number }).distinct}`);
  const transfer = transferCoverage(builds.train.vocab.ids, builds.dev.totals);
  results.transferDevByTrain = transfer;
  console.log('\ntop-k   train by train  dev by dev  dev by train (unseen code)');
  transfer.forEach((row, i) => console.log(`${String(row.k).padEnd(6)}  ${pct(coverages.train[i].share).padStart(14)}  ${pct(coverages.dev[i].share).padStart(10)}  ${pct(row.share).padStart(12)}`));

  const inc = await incremental(tok, train);
  results.incremental = inc;
  console.log(`\nincremental (train as a folder of ${inc.files} counted files): cold build ${inc.folderCold.seconds} s (${inc.folderCold.mbPerSec} MB/s), ` +
    `rebuild unchanged ${inc.rebuildUnchangedSeconds} s (CPU ${inc.rebuildUnchangedCpuSeconds} s), ` +
    `rebuild after editing one file ${inc.rebuildAfterEditSeconds} s (CPU ${inc.rebuildAfterEditCpuSeconds} s) ` +
    `(${inc.tokenizedAfterEdit} file re-tokenized; equal to cold − old + new: ${inc.exact}); cache ${(inc.cacheBytes / 1e6).toFixed(1)} MB`);
  if (json) console.log(JSON.stringify({ ok: true, ...results }));
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { console.error(`bench:vocab: ${(e as Error).stack}`); process.exitCode = 1; });
