// frspec bench spec: the speculative decoding benchmark (bench/spec.ts) from the command line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Command, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { runSpecBench, specBenchTable } from '../../bench/spec';
import { demoModelPath, sharedDir } from '../../common/models';
import { packageRoot } from '../../common/paths';

export const benchSpec: Command = {
  name: ['bench', 'spec'],
  summary: 'benchmark speculative decoding (FR-Spec) against plain decoding and llama.cpp',
  help: `usage: frspec bench spec [--model T.gguf --draft D.gguf --eagle E.gguf] [--corpus C.jsonl[.xz]]
                         [--prompts 50] [--vocab-corpus C2.jsonl[.xz]] [--tokens 64] [--threads N]
                         [--ks 8192,16384,32768,65536] [--chain 3,4] [--tree 4,4,4,12] [--lookup 2] [--only 'TEXT|TEXT']
                         [--no-llama-cpp] [--json]

Runs N fill-in-the-middle prompts of corpus C (JSON lines {lang, path, text}), T new tokens each, greedy,
through: our plain decoding; speculation with the full vocabulary; FR-Spec at each k with the vocabulary
counted from C2 ("train") and from C itself ("workspace"), and the train vocabulary plus the prompt's own
ids; for the draft model and the EAGLE head, chains of each length and the tree (depth,branch,beam,nodes);
chains with context lookup first ("+ lookup": the tokens after the last --lookup..4 tokens' most recent
earlier occurrence, the drafter only without a match; --lookup 0 leaves these rows out); and llama.cpp
plain, speculative with the draft model and with its prompt lookup (node-llama-cpp ${'3.21.1'}, installed
on first use into .cache/), with 1 thread and with N (--threads; llama.cpp's busy-waiting threads suffer most on a shared
machine, so its best of these is the anchor). Configurations alternate prompt by prompt. Every speculative output must equal plain greedy
decoding token for token (the last column counts differences). Prints a Markdown table; with --json
one JSON object last. Defaults: the demo models and ../shared/corpus (dev for C, train for C2).`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      model: { type: 'string' }, draft: { type: 'string' }, eagle: { type: 'string' }, corpus: { type: 'string' },
      prompts: { type: 'string' }, 'vocab-corpus': { type: 'string' }, tokens: { type: 'string' }, threads: { type: 'string' },
      ks: { type: 'string' }, chain: { type: 'string' }, tree: { type: 'string' }, only: { type: 'string' }, lookup: { type: 'string' },
      'no-llama-cpp': { type: 'boolean' }, 'llama-threads': { type: 'string' },
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const root = packageRoot(), shared = sharedDir(root);
    const model = values.model ?? demoModelPath(root, 'demo-target');
    const draft = values.draft ?? demoModelPath(root, 'demo-draft');
    const eagle = values.eagle ?? demoModelPath(root, 'demo-eagle');
    const corpus = values.corpus ?? (shared && path.join(shared, 'corpus', 'dev.jsonl.xz'));
    const vocabCorpus = values['vocab-corpus'] ?? (shared && !values.corpus ? path.join(shared, 'corpus', 'train.jsonl.xz') : undefined);
    if (!model || !draft || !eagle || !corpus)
      throw new UsageError('give --model, --draft, --eagle and --corpus (the defaults need ../shared, which is absent)');
    for (const f of [model, draft, eagle, corpus, vocabCorpus]) if (f && !fs.existsSync(f)) throw new UsageError(`${f}: no such file`);
    const tree = (values.tree ?? '4,4,4,12').split(',').map(Number);
    if (tree.length !== 4 || tree.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError('--tree is depth,branch,beam,nodes, e.g. 5,4,4,16');
    const ks = (values.ks ?? '8192,16384,32768,65536').split(',').map(Number);
    if (ks.some((k) => !Number.isInteger(k) || k < 1)) throw new UsageError('--ks is a comma-separated list of positive integers');
    const chains = (values.chain ?? '3,4').split(',').map(Number);
    if (chains.some((n) => !Number.isInteger(n) || n < 1 || n > 32)) throw new UsageError('--chain is a comma-separated list of lengths from 1 to 32, e.g. 3,4');
    const threads = intOption(values.threads, 'threads', os.cpus().length, 1, 1024);
    const result = await runSpecBench({
      model, draft, eagle, corpus, vocabCorpus,
      prompts: intOption(values.prompts, 'prompts', 50, 1),
      tokens: intOption(values.tokens, 'tokens', 64, 2, 4096),
      threads,
      ks, chains,
      tree: { depth: tree[0], branch: tree[1], beam: tree[2], nodes: tree[3] },
      lookup: intOption(values.lookup, 'lookup', 2, 0, 4),
      llamaCpp: !values['no-llama-cpp'],
      llamaThreads: (values['llama-threads'] ?? `1,${threads}`).split(',').map(Number).filter((t, i, a) => t >= 1 && a.indexOf(t) === i),
      only: values.only?.split('|'),
    }, (s) => io.stderr.write(`bench spec: ${s}\n`));
    io.stdout.write(specBenchTable(result) + '\n');
    if (values.json) printJson(io, { ok: true, ...result });
  },
};
