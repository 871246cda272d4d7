// frspec demo — the main job of a fresh clone (`npm start`): find a model, show what the engine reads
// from it, tokenize a sample file safely, build the frequency-ranked draft vocabulary from this
// workspace, load the editor's engine (the sidecar's session and decoder, in this process, with a drafter
// and that vocabulary) and complete the sample files at their cursor with the editor's own request: plain
// and speculative decoding side by side, the one the sidecar chose, and a check that both wrote the same.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, type CommandIO, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { readRegularFile } from '../../common/safe-fs';
import { packageRoot } from '../../common/paths';
import { demoModelPath, discoverModels, type FoundModel, knownModelFolders } from '../../common/models';
import { describeModel, pairDraftModel } from '../../common/model-info';
import { openGguf } from '../../native/gguf';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';
import { estimateMemory } from '../../native/engine';
import { buildVocab, coverage, writeVocab } from '../../vocab';
import { Session } from '../../sidecar/session';
import { calibrate } from '../../sidecar/calibrate';
import { decodeText, type TextResult } from '../../sidecar/decode-text';
import type { DecodeRequest, DecodeResult } from '../../sidecar/decoder';
import { encodePrompt, specialTexts } from '../../sidecar/prompt';
import { EDITOR_DEFAULTS, editorRequest, languageIdOf } from '../../extension/prompt/request';
import { postprocess } from '../../extension/postprocess/multiline';

const CURSOR = '⟨cursor⟩';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const demo: Command = {
  name: ['demo'],
  summary: 'the main job: inspect a model, build a workspace vocabulary, complete sample files plainly and speculatively',
  help: `usage: frspec demo [--model T.gguf] [--draft D.gguf | --eagle E.gguf | --plain] [--workspace DIR] [--file F]...
                   [-n N] [--threads N] [--json]

Finds a model (--model, $FRSPEC_MODEL, the demo models in ../shared, or GGUF files in the caches of
Ollama, LM Studio, llama.cpp and the Hugging Face hub), prints what the engine reads from it and the
memory it needs, shows that text such as <|fim_prefix|> in a file stays plain text, builds the
frequency-ranked draft vocabulary of the workspace (default: this repository) with its top-k coverage,
and loads the editor's engine in this process: the sidecar's session with a drafter (--draft, --eagle; by
default the demo draft model, or the smallest local model with the target's tokenizer at most a third of
its size; --plain: none) and that vocabulary. Then it completes each sample file at its ${CURSOR} marker
(default: examples/*) with the request the editor sends there (its prefix/suffix windows, FIM prompt and
stop rules; no time budget, so both decoders write the whole completion): plain and speculative decoding
side by side (prompt ms, decode tokens/s, τ), the decoder the sidecar chose for it, and whether both wrote
the same text (they must: it fails otherwise). With no model anywhere it says where it looked.`,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      model: { type: 'string' }, draft: { type: 'string' }, eagle: { type: 'string' }, plain: { type: 'boolean' },
      workspace: { type: 'string' }, file: { type: 'string', multiple: true },
      n: { type: 'string', short: 'n' }, threads: { type: 'string' },
    });
    const maxTokens = intOption(values.n, 'n', 48, 1, 4096);
    const threads = intOption(values.threads, 'threads', 0, 0, 1024);
    if ([values.draft, values.eagle, values.plain].filter((x) => x !== undefined).length > 1) throw new UsageError('give at most one of --draft, --eagle and --plain');
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
    writeVocab(vocabOut, v);
    const cov = coverage(v.counts, v.corpus.tokens);
    say(`\ndraft vocabulary of ${workspace}:`);
    say(`  ${v.corpus.files} files, ${mb(v.corpus.bytes)}, ${v.corpus.tokens} tokens → ${v.ids.length - v.forced} distinct ids ranked (+${v.forced} special ids always kept) in ${buildMs.toFixed(0)} ms` +
        ` (${built.filesFromCache} files from the count cache)`);
    say(`  coverage of the workspace's tokens by the top k: ${cov.map((c) => `${c.k / 1024}k ${pct(c.share)}`).join(' · ')}`);
    report.vocab = { file: vocabOut, files: v.corpus.files, bytes: v.corpus.bytes, tokens: v.corpus.tokens, distinct: v.ids.length - v.forced, buildMs, coverage: cov };

    // 4. The editor's engine: the sidecar's session (target, drafter, this vocabulary), measured as the sidecar does.
    const drafter = values.plain ? {} : values.eagle ? { eagle: values.eagle } : values.draft ? { draft: values.draft } : findDrafter(repoRoot, model, say);
    const session = await Session.load({ model, ...drafter, vocab: vocabOut, threads, calibrate: true });
    try {
      const d = session.decoder;
      const info = session.describe();
      say(`\nengine (the editor's sidecar, in this process): ${info.model.backend}, ${info.model.threads} threads`);
      say(`  decoding: ${d.summary.mode}${d.summary.drafter ? ` with the ${d.summary.drafter}` : ''}` +
          `${d.summary.mode === 'speculative' ? `, FR-Spec top ${info.vocab?.topK} of the workspace vocabulary` : ''}`);
      const never = new AbortController().signal;
      if (d.summary.mode === 'speculative') {
        const c = await calibrate(d, session.tok, never);
        d.choose(c.plainTokensPerSecond, c.decoderTokensPerSecond, c.tau);
        say(`  calibrated (${c.runs} runs of ${c.tokens} tokens each): plain ${c.plainTokensPerSecond.toFixed(0)} tokens/s, speculative ` +
            `${c.decoderTokensPerSecond.toFixed(0)} tokens/s (τ ${c.tau.toFixed(2)}); each request then goes to the one its measured costs predict faster`);
        report.calibration = c;
      }

      // 5. Completions at the cursor of each sample file, as the editor asks for them.
      const files = values.file ?? fs.readdirSync(path.join(repoRoot, 'examples')).filter((f) => f !== 'README.md').sort().map((f) => path.join(repoRoot, 'examples', f));
      const completions = [];
      for (const file of files) completions.push(await completeFile(session, file, workspace, maxTokens, never, say));
      report.decoding = d.summary;
      report.completions = completions;
    } finally {
      await session.close();
    }
    if (values.json) printJson(io, report);
    else say('\ndone');
  },
};

/** The demo's draft model beside the demo target, else a local model with the same tokenizer (as Select Model… pairs one). */
function findDrafter(repoRoot: string, model: string, say: (s?: string) => void): { draft?: string } {
  if (model === demoModelPath(repoRoot, 'demo-target')) {
    const draft = demoModelPath(repoRoot, 'demo-draft');
    return draft ? { draft } : {};
  }
  try {
    const target = describeModel(model);
    const pairing = pairDraftModel(target, discoverModels().map((f) => describeModel(f.path, path.basename(f.path), f.source)));
    if (!pairing.draft) say(`\nno draft model: ${pairing.reason} (decoding plainly; --draft D.gguf or --eagle E.gguf choose one)`);
    return pairing.draft ? { draft: pairing.draft.path } : {};
  } catch {
    return {};
  }
}

interface Side { text: string; stop: string; tokens: number; promptMs: number; decodeMs: number; tokensPerSecond: number; tau: number }

const side = (t: TextResult): Side => ({
  text: t.text, stop: t.stop, tokens: t.result.tokens.length, promptMs: t.result.promptMs, decodeMs: t.result.decodeMs,
  tokensPerSecond: t.result.tokens.length / Math.max(1e-9, t.result.decodeMs / 1000), tau: t.result.tau,
});

async function completeFile(session: Session, file: string, workspace: string, maxTokens: number, signal: AbortSignal, say: (s?: string) => void) {
  const tok: Tokenizer = session.tok;
  const d = session.decoder;
  const marked = readRegularFile(file, { maxBytes: 16 << 20, what: 'source file' }).toString('utf8');
  const at = marked.indexOf(CURSOR);
  if (at < 0) throw new UsageError(`${file}: no ${CURSOR} marker`);
  const text = marked.slice(0, at) + marked.slice(at + CURSOR.length);
  // The editor's request at this cursor, with no time budget (both decoders write the whole completion, so
  // their texts can be compared) and the whole suffix window (no prompt budget).
  const { params, cursor } = editorRequest(text, at, { path: path.relative(workspace, file), repoName: path.basename(workspace), languageId: languageIdOf(file) },
    specialTexts(tok), { ...EDITOR_DEFAULTS, maxTokens, timeBudgetMs: 0, promptBudgetMs: 0 });
  const prompt = encodePrompt(tok, params.parts, session.limits);
  // Each decoder reads the whole prompt, as for a newly opened file: the KV cache is emptied before each run.
  const coldRun = async (decode: (r: DecodeRequest) => Promise<DecodeResult>) => {
    await d.plain({ prompt: Int32Array.of(tok.specials.eog[0] ?? 0), maxTokens: 1, stopTokens: [], signal });
    return decodeText(tok, decode, prompt, { ...params, maxTokens }, signal);
  };
  const served = await coldRun((r) => d.generate(r));  // the sidecar's path: the decoder it predicts faster
  const speculative = d.summary.mode === 'speculative';
  const other = speculative ? await coldRun((r) => (served.result.mode === 'plain' ? d.configured(r) : d.plain(r))) : undefined;
  const plain = served.result.mode === 'plain' ? served : other;
  const spec = served.result.mode === 'speculative' ? served : other;
  const same = !plain || !spec || plain.text === spec.text;

  const shown = postprocess(served.text, cursor);
  const lines = (t: string) => (t ? t.replace(/\n$/, '').split('\n').length : 0);
  const limit = params.maxLines ? `at most ${params.maxLines} line${params.maxLines > 1 ? 's' : ''}` : 'a block';
  say(`\n── ${path.relative(process.cwd(), file)}: the editor's request at ⟨cursor⟩ (${prompt.length} prompt tokens, ${limit}) ──`);
  say(text.slice(0, at).split('\n').slice(-3).join('\n') + '\x1b[2m' + shown + '\x1b[0m' + text.slice(at).split('\n').slice(0, 2).join('\n'));
  if (shown !== served.text.replace(/\n$/, ''))
    say(`  (the decoders wrote ${lines(served.text)} line${lines(served.text) === 1 ? '' : 's'}; the editor shows ${lines(shown)}: its multi-line rules, extension/postprocess/multiline.ts)`);
  say(`  ${''.padEnd(12)} ${'prompt'.padStart(7)} ${'decode'.padStart(11)} ${'tokens'.padStart(6)} ${'τ'.padStart(5)}  stop`);
  const row = (name: string, t: TextResult | undefined) => {
    if (!t) return;
    const s = side(t);
    const chosen = t === served ? `  ← the sidecar chose ${name} (${served.result.why ?? 'the only decoder'})` : '';
    say(`  ${name.padEnd(12)} ${`${s.promptMs.toFixed(0)} ms`.padStart(7)} ${`${s.tokensPerSecond.toFixed(0)} tok/s`.padStart(11)} ` +
        `${String(s.tokens).padStart(6)} ${s.tau.toFixed(2).padStart(5)}  ${s.stop}${chosen}`);
  };
  row('plain', plain);
  row('speculative', spec);
  if (spec && plain) {
    if (!same) throw new Error(`${file}: speculative decoding wrote ${JSON.stringify(spec.text)}, plain decoding ${JSON.stringify(plain.text)}: they must be the same`);
    const speedup = side(spec).tokensPerSecond / Math.max(1e-9, side(plain).tokensPerSecond);
    say(`  same text from both (speculative output == plain greedy output, as always); speculative decoding ${speedup.toFixed(2)}× plain's tokens/s`);
  }
  return {
    file, promptTokens: prompt.length, request: { maxTokens: params.maxTokens, maxLines: params.maxLines, stopAtBlankLine: params.stopAtBlankLine },
    suggestion: shown, chosen: served.result.mode, why: served.result.why, sameText: same,
    ...(plain ? { plain: side(plain) } : {}), ...(spec ? { speculative: side(spec) } : {}),
  };
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
