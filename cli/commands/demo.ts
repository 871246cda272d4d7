// frspec demo — the main job of a fresh clone (`npm start`): find a model, show what the engine reads
// from it, tokenize a sample file safely, build the frequency-ranked draft vocabulary from this
// workspace, and complete the sample files at their cursor.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, type CommandIO, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { readRegularFile } from '../../common/safe-fs';
import { packageRoot } from '../../common/paths';
import { demoModelPath, discoverModels, type FoundModel, knownModelFolders } from '../../common/models';
import { openGguf } from '../../native/gguf';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';
import { Engine, estimateMemory } from '../../native/engine';
import { buildVocab, coverage } from '../../vocab';

const CURSOR = '⟨cursor⟩';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const demo: Command = {
  name: ['demo'],
  summary: 'the main job: inspect a model, build a workspace vocabulary, complete sample files',
  help: `usage: frspec demo [--model T.gguf] [--workspace DIR] [--file F]... [-n N] [--threads N] [--json]

Finds a model (--model, $FRSPEC_MODEL, the demo models in ../shared, or GGUF files in the caches of
Ollama, LM Studio, llama.cpp and the Hugging Face hub), prints what the engine reads from it and the
memory it needs, shows that text such as <|fim_prefix|> in a file stays plain text, builds the
frequency-ranked draft vocabulary of the workspace (default: this repository) with its top-k coverage,
and completes each sample file at its ${CURSOR} marker (default: examples/*) with fill-in-the-middle.
With no model anywhere it says where it looked and how to get one.`,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      model: { type: 'string' }, workspace: { type: 'string' }, file: { type: 'string', multiple: true },
      n: { type: 'string', short: 'n' }, threads: { type: 'string' },
    });
    const maxTokens = intOption(values.n, 'n', 48, 1, 4096);
    const threads = intOption(values.threads, 'threads', 0, 0, 1024);
    const repoRoot = packageRoot();
    const say = (s = '') => { if (!values.json) io.stdout.write(s + '\n'); };
    const report: Record<string, unknown> = { ok: true };

    // 1. A model.
    const model = values.model ?? process.env.FRSPEC_MODEL ?? demoModelPath(repoRoot, 'demo-target') ?? pickDiscovered(say);
    if (!model) {
      explainNoModel(say);
      if (values.json) printJson(io, { ok: true, model: null, searched: knownModelFolders().map((f) => f.dir) });
      return;
    }
    if (!fs.existsSync(model)) throw new UsageError(`model not found: ${model}`);
    const gguf = openGguf(model);
    const arch = String(gguf.get('general.architecture'));
    say(`FR-Spec Complete — main job\n\nmodel: ${model}`);
    say(`  ${arch}, ${gguf.tensors().length} tensors, GGUF v${gguf.version}, ${gguf.get('general.name') ?? ''}`);
    const mem = estimateMemory(model, { threads });
    say(`  memory for a 4096-token context: ${mb(mem.total)} (weights ${mb(mem.weights)} mmapped, KV cache ${mb(mem.kvCache)})`);
    report.model = { path: model, arch, memory: mem };

    // 2. The tokenizer, and why user text is data.
    const tok = openTokenizer(model);
    const injected = 'x = "<|fim_prefix|><|endoftext|>"';
    const ids = tok.encode(injected);
    const specialInText = Array.from(ids).filter((id) => tok.isSpecial(id)).length;
    say(`\ntokenizer: ${tok.pre} BPE, ${tok.vocabSize} tokens, fingerprint ${tok.fingerprint.slice(0, 12)}…`);
    say(`  '${injected}' → ${ids.length} plain-text tokens, ${specialInText} special (user text never becomes control tokens)`);
    report.tokenizer = { pre: tok.pre, vocabSize: tok.vocabSize, specialTokensFromText: specialInText };

    // 3. The frequency-ranked draft vocabulary of this workspace.
    const workspace = path.resolve(values.workspace ?? repoRoot);
    const vocabOut = path.join(repoRoot, '.cache', 'demo', `workspace-${tok.fingerprint.slice(0, 12)}.frv`);
    fs.mkdirSync(path.dirname(vocabOut), { recursive: true });
    const t0 = performance.now();
    const built = await buildVocab(workspace, tok, { cacheFile: `${vocabOut}.cache` });
    const buildMs = performance.now() - t0;
    const v = built.vocab;
    const cov = coverage(v.counts, v.corpus.tokens);
    say(`\ndraft vocabulary of ${workspace}:`);
    say(`  ${v.corpus.files} files, ${mb(v.corpus.bytes)}, ${v.corpus.tokens} tokens → ${v.ids.length - v.forced} distinct ids ranked (+${v.forced} special ids always kept) in ${buildMs.toFixed(0)} ms` +
        ` (${built.filesFromCache} files from the count cache)`);
    say(`  coverage of the workspace's tokens by the top k: ${cov.map((c) => `${c.k / 1024}k ${pct(c.share)}`).join(' · ')}`);
    report.vocab = { files: v.corpus.files, bytes: v.corpus.bytes, tokens: v.corpus.tokens, distinct: v.ids.length - v.forced, buildMs, coverage: cov };

    // 4. Completions at the cursor of each sample file.
    const files = values.file ?? fs.readdirSync(path.join(repoRoot, 'examples')).filter((f) => f !== 'README.md').map((f) => path.join(repoRoot, 'examples', f));
    const engine = await Engine.load(model, { threads });
    say(`\nengine: ${engine.info.backend}${engine.info.backendNote ? ` (${engine.info.backendNote})` : ''}, ${engine.info.threads} threads`);
    const completions = [];
    try {
      for (const file of files) completions.push(await completeFile(engine, tok, file, maxTokens, say));
    } finally {
      await engine.close();
    }
    report.completions = completions;
    if (values.json) printJson(io, report);
  },
};

async function completeFile(engine: Engine, tok: Tokenizer, file: string, maxTokens: number, say: (s?: string) => void) {
  const text = readRegularFile(file, { maxBytes: 16 << 20, what: 'source file' }).toString('utf8');
  const at = text.indexOf(CURSOR);
  if (at < 0) throw new UsageError(`${file}: no ${CURSOR} marker`);
  const prefix = text.slice(0, at);
  const suffix = text.slice(at + CURSOR.length);
  const s = tok.specials;
  if (s.fimPre < 0 || s.fimSuf < 0 || s.fimMid < 0) throw new Error(`the model has no fill-in-the-middle tokens`);
  // PSM layout (Qwen2.5-Coder): special tokens added by id, the user's text encoded as plain text.
  const prompt = [s.fimPre, ...tok.encode(prefix), s.fimSuf, ...tok.encode(suffix), s.fimMid];
  const r = await engine.generate(prompt, { maxTokens, stopTokens: s.eog });
  const completion = tok.decode(r.tokens);
  const tps = r.tokens.length / Math.max(1e-9, r.decodeMs / 1000);
  say(`\n── ${path.relative(process.cwd(), file)} (${prompt.length} prompt tokens) ──`);
  say(prefix.split('\n').slice(-3).join('\n') + '\x1b[2m' + completion + '\x1b[0m' + suffix.split('\n').slice(0, 2).join('\n'));
  say(`── ${r.tokens.length} tokens, stop: ${r.stop}; prompt ${r.promptMs.toFixed(0)} ms, decode ${tps.toFixed(0)} tokens/s (plain greedy)`);
  return { file, promptTokens: prompt.length, tokens: r.tokens.length, completion, stop: r.stop, promptMs: r.promptMs, decodeMs: r.decodeMs, tokensPerSecond: tps };
}

function pickDiscovered(say: (s?: string) => void): string | undefined {
  const found: FoundModel[] = discoverModels();
  if (found.length === 0) return undefined;
  say(`found ${found.length} local GGUF model(s); using the smallest (pass --model to choose):`);
  for (const f of found.slice(0, 5)) say(`  ${mb(f.bytes).padStart(10)}  ${f.source.padEnd(18)} ${f.path}`);
  return found[0].path;
}

function explainNoModel(say: (s?: string) => void) {
  say('No GGUF model found. Looked at --model, $FRSPEC_MODEL, ../shared/models and:');
  for (const f of knownModelFolders()) say(`  ${f.source.padEnd(18)} ${f.dir}`);
  say(`
Recommended pair (same tokenizer, so the small one drafts for the large one):
  target: Qwen2.5-Coder-1.5B (or 7B) in Q8_0 or Q4_K_M GGUF — a base (not instruct) model, e.g. \`ollama pull qwen2.5-coder:1.5b-base\`
  draft:  Qwen2.5-Coder-0.5B in Q8_0
Then: npm start -- --model /path/to/qwen2.5-coder-1.5b-q8_0.gguf`);
}
