// frspec bench typing: keystroke -> suggestion latency through the real sidecar (bench/typing.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Command, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { runTypingBench, typingTable } from '../../bench/typing';
import { randomModel } from '../../bench/random-gguf';
import { FILE_TYPES, type FileType, SHAPES } from '../../bench/shapes';
import { demoModelPath, sharedDir } from '../../common/models';
import { packageRoot } from '../../common/paths';

/** The extension's default for a setting (package.json contributes.configuration). */
function extensionDefault(root: string, key: string): unknown {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  return pkg.contributes?.configuration?.properties?.[key]?.default;
}

/** A GGUF path, a demo model name, or SHAPE:TYPE (a random-weight model of a real shape, made once into .cache/models). */
function resolveModel(root: string, spec: string, log: (s: string) => void): string {
  if (/^demo-(target|draft|eagle)$/.test(spec)) {
    const f = demoModelPath(root, spec as 'demo-target');
    if (!f) throw new UsageError(`${spec} lives in ../shared, which is absent`);
    return f;
  }
  const m = /^([a-z0-9.-]+):([A-Z0-9_]+)$/.exec(spec);
  if (m && !fs.existsSync(spec)) {
    if (!SHAPES.some((s) => s.name === m[1])) throw new UsageError(`unknown shape '${m[1]}' (${SHAPES.map((s) => s.name).join(', ')})`);
    if (!FILE_TYPES.includes(m[2] as FileType)) throw new UsageError(`unknown file type '${m[2]}' (${FILE_TYPES.join(', ')})`);
    return randomModel(m[1], m[2] as FileType, log);
  }
  if (!fs.existsSync(spec)) throw new UsageError(`${spec}: no such file`);
  return spec;
}

export const benchTyping: Command = {
  name: ['bench', 'typing'],
  summary: 'replay typing through the real sidecar: last keystroke -> suggestion latency, beside llama.cpp',
  help: `usage: frspec bench typing [--model M] [--draft D | --eagle E] [--vocab V.frv] [--top-k K] [--corpus C.jsonl[.xz]]
                          [--files 5] [--keystrokes 20] [--bursts 3] [--pace-ms 150] [--pause-ms 500]
                          [--prefix-chars 1500] [--suffix-chars 500] [--max-tokens 12] [--time-budget-ms MS] [--prompt-budget-ms MS]
                          [--threads N] [--context-size 4096] [--sidecar dist/sidecar.js] [--compare-plain] [--no-llama-cpp] [--llama-threads N,M] [--llama-files N]
                          [--out RESULT.json] [--json]

Replays typing in N files of corpus C (default ../shared/corpus/dev.jsonl.xz) through the sidecar process
(dist/sidecar.js, spawned and spoken to as the extension does) with the extension's prompt builder: from the
middle line of each file, bursts of keystrokes that each insert the file's next character and send a new
completion request (the previous one is cancelled: newest wins), a pause after each burst. Reports per file
and overall: last keystroke -> suggestion p50/p95, queue/prompt/decode ms, prompt tokens re-evaluated, tokens
generated and shown, τ and which decoder served; then the same typing through llama.cpp (node-llama-cpp
3.21.1, installed on first use, the same --threads; --llama-threads 2,1 runs it once per count, --llama-files N on the first N files
only) with prefix reuse on a persistent sequence. --out is rewritten after each engine's run.
M, D, E: a GGUF file, demo-target/demo-draft/demo-eagle, or SHAPE:TYPE, a random-weight model of a real
shape made once into .cache/models (e.g. qwen2.5-coder-1.5b:Q4_K_M; shapes: ${SHAPES.map((s) => s.name).join(', ')};
types: ${FILE_TYPES.join(', ')}). --time-budget-ms and --prompt-budget-ms default to the extension's frspec.timeBudgetMs and
frspec.promptBudgetMs (0: none; llama.cpp always reads the whole suffix).
--compare-plain (with --draft or --eagle): a second sidecar with the same target and no drafter types the same
keystrokes, the two taking turns burst by burst; the report compares them (last key -> suggestion p50/p95, per
file p50, decode tokens/s, identical suggestions).
--out writes the result JSON; --json prints it as the last line.`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      model: { type: 'string' }, draft: { type: 'string' }, eagle: { type: 'string' }, vocab: { type: 'string' }, 'top-k': { type: 'string' },
      corpus: { type: 'string' }, files: { type: 'string' }, keystrokes: { type: 'string' }, bursts: { type: 'string' },
      'pace-ms': { type: 'string' }, 'pause-ms': { type: 'string' }, 'prefix-chars': { type: 'string' }, 'suffix-chars': { type: 'string' },
      'max-tokens': { type: 'string' }, 'time-budget-ms': { type: 'string' }, 'prompt-budget-ms': { type: 'string' }, threads: { type: 'string' }, 'context-size': { type: 'string' },
      sidecar: { type: 'string' }, 'compare-plain': { type: 'boolean' }, 'no-llama-cpp': { type: 'boolean' }, 'llama-threads': { type: 'string' }, 'llama-files': { type: 'string' }, out: { type: 'string' },
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.draft && values.eagle) throw new UsageError('give --draft or --eagle, not both');
    if (values['compare-plain'] && !values.draft && !values.eagle) throw new UsageError('--compare-plain needs --draft or --eagle');
    const root = packageRoot(), shared = sharedDir(root);
    const corpus = values.corpus ?? (shared && path.join(shared, 'corpus', 'dev.jsonl.xz'));
    if (!corpus || (!values.model && !shared)) {
      const why = 'bench typing skipped: ../shared (demo models and corpus) is absent; give --model and --corpus';
      io.stdout.write(why + '\n');
      if (values.json) printJson(io, { ok: false, skipped: why });
      return;
    }
    if (!fs.existsSync(corpus)) throw new UsageError(`${corpus}: no such file`);
    if (values.vocab && !fs.existsSync(values.vocab)) throw new UsageError(`${values.vocab}: no such file`);
    const log = (s: string) => io.stderr.write(`bench typing: ${s}\n`);
    const model = resolveModel(root, values.model ?? 'demo-target', log);
    const draft = values.draft ? resolveModel(root, values.draft, log) : undefined;
    const eagle = values.eagle ? resolveModel(root, values.eagle, log) : undefined;
    const sidecarEntry = path.resolve(values.sidecar ?? path.join(root, 'dist', 'sidecar.js'));
    const result = await runTypingBench({
      model, draft, eagle, vocab: values.vocab, topK: values['top-k'] ? intOption(values['top-k'], 'top-k', 0, 1) : undefined, corpus,
      files: intOption(values.files, 'files', 5, 1, 1000),
      keystrokes: intOption(values.keystrokes, 'keystrokes', 20, 1, 10000),
      bursts: intOption(values.bursts, 'bursts', 3, 1, 1000),
      paceMs: intOption(values['pace-ms'], 'pace-ms', 150, 0, 60000),
      pauseMs: intOption(values['pause-ms'], 'pause-ms', 500, 0, 600000),
      prefixChars: intOption(values['prefix-chars'], 'prefix-chars', 1500, 1),
      suffixChars: intOption(values['suffix-chars'], 'suffix-chars', 500, 0),
      maxTokens: intOption(values['max-tokens'], 'max-tokens', 12, 1, 512),
      timeBudgetMs: intOption(values['time-budget-ms'], 'time-budget-ms', Number(extensionDefault(root, 'frspec.timeBudgetMs') ?? 0), 0),
      promptBudgetMs: intOption(values['prompt-budget-ms'], 'prompt-budget-ms', Number(extensionDefault(root, 'frspec.promptBudgetMs') ?? 0), 0),
      threads: intOption(values.threads, 'threads', os.cpus().length, 1, 1024),
      contextSize: intOption(values['context-size'], 'context-size', 4096, 256, 131072),
      sidecarEntry, execArgv: sidecarEntry.endsWith('.ts') ? ['--import', 'tsx'] : undefined,
      llamaCpp: !values['no-llama-cpp'], comparePlain: !!values['compare-plain'],
      llamaThreads: values['llama-threads']?.split(',').map((t) => intOption(t, 'llama-threads', 1, 1, 1024)),
      llamaFiles: values['llama-files'] ? intOption(values['llama-files'], 'llama-files', 1, 1, 1000) : undefined,
    }, log, (partial) => { if (values.out) fs.writeFileSync(values.out, JSON.stringify(partial, null, 1) + '\n'); });
    io.stdout.write(typingTable(result) + '\n');
    if (values.json) printJson(io, { ok: true, ...result });
  },
};
