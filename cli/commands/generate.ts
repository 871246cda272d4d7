// frspec generate: complete a prompt, a fill-in-the-middle prefix/suffix, or a file at its cursor. A file is
// completed as the editor completes it: the extension's request (extension/prompt/request.ts) through the
// sidecar's session and decoder in this process; a prefix/suffix gets the editor's FIM layout for the model.
import * as path from 'node:path';
import { type Command, type CommandIO, floatOption, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { Engine, estimateMemory } from '../../native/engine';
import { openTokenizer } from '../../native/tokenizer';
import { parseSpecOptions, runSpeculative, specHelp, specOptionDefs } from '../spec-options';
import { readRegularFile } from '../../common/safe-fs';
import { EDITOR_DEFAULTS, editorRequest, languageIdOf, promptParts } from '../../extension/prompt/request';
import { postprocess } from '../../extension/postprocess/multiline';
import { decodeText } from '../../sidecar/decode-text';
import { encodePrompt, specialTexts } from '../../sidecar/prompt';
import { Session } from '../../sidecar/session';

const CURSOR = '⟨cursor⟩';

/** Prompt files are read whole: a limit keeps /dev/zero or a huge file from filling memory. */
const MAX_PROMPT_FILE_BYTES = 64 << 20;

export const generate: Command = {
  name: ['generate'],
  summary: 'complete a prompt or a fill-in-the-middle prefix/suffix with a GGUF model',
  help: `usage: frspec generate --model M.gguf (--prompt TEXT | --prompt-file F | --fim-prefix-file P --fim-suffix-file S)
                       [-n 64] [--temperature 0] [--top-k 0] [--top-p 1] [--seed 0] [--threads N]
                       [--context 4096] [--json]
       frspec generate --model M.gguf --file F [--cursor OFFSET] [--draft D.gguf | --eagle E.gguf] [--vocab V.frv]
                       [--vocab-top-k K] [-n 48] [--threads N] [--context 4096] [--json]

--file completes F at its ${CURSOR} marker (removed first) or at character OFFSET as the editor does: its request
(prefix/suffix windows, the model's FIM layout with F's path, one line in the middle of a line, stop rules; no
time budget) through the sidecar's session and decoder in this process, speculative with --draft/--eagle (the
sidecar's drafting: chain 3 after a context lookup, FR-Spec with --vocab), greedy. It prints the completion and,
on stderr, what the editor would show and the timings; --json: {ok, text, suggestion, stop, nPrompt, timings,
decoding: {mode, tau, steps, drafter}}.

Prints the completion as it is generated. The prompt is plain text: special-token markup typed in it
(e.g. <|fim_prefix|>) stays text. With --fim-prefix-file/--fim-suffix-file the prompt is the editor's
fill-in-the-middle layout for the model's family (extension/prompt/templates.ts), with P's name as the path. Generation stops after -n tokens or
at an end-of-generation token. Temperature 0 is greedy; otherwise top-k, then top-p, then a draw with
the seed (the same seed gives the same text). --threads defaults to all cores.
The memory the model needs (weights, KV cache, buffers) is computed from the file's header and shown
before loading. With --json the last line is {ok, tokens, text, stop, nPrompt, timings: {promptMs,
decodeMs, promptTokensPerSecond, tokensPerSecond}, memory: {weights, kvCache, scratch, argmaxFilter, total}}.
${specHelp}`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      model: { type: 'string', short: 'm' },
      prompt: { type: 'string', short: 'p' },
      'prompt-file': { type: 'string' },
      'fim-prefix-file': { type: 'string' },
      'fim-suffix-file': { type: 'string' },
      'max-tokens': { type: 'string', short: 'n' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      context: { type: 'string' },
      file: { type: 'string' },
      cursor: { type: 'string' },
      ...specOptionDefs,
    });
    if (values.file !== undefined) return completeFile(values, io);
    const spec = parseSpecOptions(values);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.model) throw new UsageError('--model is required');
    const sources = [values.prompt !== undefined, values['prompt-file'] !== undefined,
      values['fim-prefix-file'] !== undefined || values['fim-suffix-file'] !== undefined].filter(Boolean).length;
    if (sources !== 1) throw new UsageError('give exactly one of --prompt, --prompt-file, or --fim-prefix-file with --fim-suffix-file');
    if ((values['fim-prefix-file'] === undefined) !== (values['fim-suffix-file'] === undefined))
      throw new UsageError('--fim-prefix-file and --fim-suffix-file go together');
    const maxTokens = intOption(values['max-tokens'], 'max-tokens', 64, 0, 1 << 20);
    const temperature = floatOption(values.temperature, 'temperature', 0, 0, 100);
    const topK = intOption(values['top-k'], 'top-k', 0, 0);
    const topP = floatOption(values['top-p'], 'top-p', 1, Number.MIN_VALUE, 1);
    const seed = intOption(values.seed, 'seed', 0, 0);
    const threads = intOption(values.threads, 'threads', 0, 0, 1024);
    const contextSize = intOption(values.context, 'context', 4096, 1, 1 << 22);

    const read = (f: string) => {
      try {
        return readRegularFile(f, { maxBytes: MAX_PROMPT_FILE_BYTES, what: 'prompt file' });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    };
    const tok = openTokenizer(values.model);
    const sp = tok.specials;
    let prompt: number[];
    if (values['fim-prefix-file'] !== undefined) {
      if (sp.fimPre < 0 || sp.fimSuf < 0 || sp.fimMid < 0) throw new UsageError('this model has no fill-in-the-middle tokens');
      const input = { prefix: read(values['fim-prefix-file']).toString('utf8'), suffix: read(values['fim-suffix-file']!).toString('utf8'),
        path: path.basename(values['fim-prefix-file']), repoName: path.basename(process.cwd()), chunks: [] };
      prompt = [...encodePrompt(tok, promptParts(specialTexts(tok), input), NO_LIMITS)];
    } else {
      prompt = [...tok.encode(values.prompt ?? read(values['prompt-file']!))];
    }
    if (sp.addBos && sp.bos >= 0) prompt.unshift(sp.bos);
    if (prompt.length === 0) throw new UsageError('the prompt is empty');

    if (spec)
      return runSpeculative(spec, { model: values.model, prompt, tok, json: values.json === true, threads, contextSize,
        sampling: { maxTokens, temperature, topK, topP, seed } }, io);
    const engineOptions = { threads, contextSize: Math.min(contextSize, prompt.length + maxTokens), maxLogitRows: 1 };
    const memory = estimateMemory(values.model, engineOptions);  // from the header, before loading
    if (!values.json)
      io.stderr.write(`[memory: ${mib(memory.total)} MiB = weights ${mib(memory.weights)} (mmapped) + KV cache ${mib(memory.kvCache)} ` +
        `+ buffers ${mib(memory.scratch)}${memory.argmaxFilter ? ` + greedy LM-head filter ${mib(memory.argmaxFilter)}` : ''}]\n`);
    const engine = await Engine.load(values.model, engineOptions);
    try {
      const decoder = tok.streamDecoder();
      const r = await engine.generate(prompt, {
        maxTokens, temperature, topK, topP, seed, stopTokens: sp.eog,
        onToken: values.json ? undefined : (ids) => { for (const id of ids) io.stdout.write(decoder.push(id)); },
      });
      const text = tok.decode(r.tokens);
      const timings = {
        promptMs: round(r.promptMs),
        decodeMs: round(r.decodeMs),
        promptTokensPerSecond: round(((r.nPrompt - r.nReused) * 1000) / r.promptMs),
        tokensPerSecond: r.nDecodeSteps ? round((r.nDecodeSteps * 1000) / r.decodeMs) : 0,
      };
      if (values.json) {
        printJson(io, { ok: true, tokens: [...r.tokens], text, stop: r.stop, nPrompt: r.nPrompt, timings, memory });
      } else {
        io.stdout.write(decoder.flush() + '\n');
        io.stderr.write(`[${r.tokens.length} tokens, stop: ${r.stop}; prompt ${r.nPrompt} tokens in ${timings.promptMs} ms ` +
          `(${timings.promptTokensPerSecond} tok/s), decode ${timings.tokensPerSecond} tok/s, ${engine.info.backend}, ` +
          `${engine.info.threads} threads]\n`);
      }
    } finally {
      await engine.close();
    }
  },
};

const round = (x: number) => Math.round(x * 100) / 100;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const NO_LIMITS = { maxPromptTokens: Number.MAX_SAFE_INTEGER, maxPromptChars: Number.MAX_SAFE_INTEGER, maxTokens: Number.MAX_SAFE_INTEGER };

/** `--file`: the editor's request at the cursor, through the sidecar's session and decoder. */
async function completeFile(values: Record<string, string | boolean | undefined>, io: CommandIO): Promise<void> {
  const editorOnly = ['prompt', 'prompt-file', 'fim-prefix-file', 'fim-suffix-file', 'temperature', 'top-k', 'top-p', 'seed', 'chain', 'tree',
    'tree-depth', 'tree-branch', 'tree-beam', 'tree-nodes', 'context-tokens', 'lookup', 'lookup-tokens', 'time-budget', 'max-lines'];
  const other = editorOnly.find((k) => values[k] !== undefined);
  if (other) throw new UsageError(`--file decodes as the editor does (greedy, the sidecar's drafting); --${other} does not go with it`);
  if (!values.model) throw new UsageError('--model is required');
  if (values.draft && values.eagle) throw new UsageError('give one drafter: --draft D.gguf or --eagle E.gguf');
  if (values['vocab-top-k'] !== undefined && !values.vocab) throw new UsageError('--vocab-top-k needs --vocab V.frv');
  const file = String(values.file);
  let text: string;
  try {
    text = readRegularFile(file, { maxBytes: MAX_PROMPT_FILE_BYTES, what: 'source file' }).toString('utf8');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let at = text.indexOf(CURSOR);
  if (values.cursor !== undefined) at = intOption(values.cursor as string, 'cursor', 0, 0, text.length);
  else if (at >= 0) text = text.slice(0, at) + text.slice(at + CURSOR.length);
  else throw new UsageError(`${file}: no ${CURSOR} marker; give --cursor OFFSET`);
  const maxTokens = intOption(values['max-tokens'] as string | undefined, 'max-tokens', EDITOR_DEFAULTS.maxTokens, 1, 512);
  const session = await Session.load({
    model: String(values.model), ...(values.draft ? { draft: String(values.draft) } : {}), ...(values.eagle ? { eagle: String(values.eagle) } : {}),
    ...(values.vocab ? { vocab: String(values.vocab), topK: intOption(values['vocab-top-k'] as string | undefined, 'vocab-top-k', 32768, 1, 1 << 24) } : {}),
    threads: intOption(values.threads as string | undefined, 'threads', 0, 0, 1024),
    contextSize: intOption(values.context as string | undefined, 'context', 4096, 256, 131072), calibrate: false,
  });
  try {
    const { params, cursor } = editorRequest(text, at, { path: path.relative(process.cwd(), path.resolve(file)), repoName: path.basename(process.cwd()), languageId: languageIdOf(file) },
      specialTexts(session.tok), { ...EDITOR_DEFAULTS, maxTokens, timeBudgetMs: 0, promptBudgetMs: 0 });
    const prompt = encodePrompt(session.tok, params.parts, session.limits);
    let written = 0;
    const onText = values.json ? undefined : (t: string) => { io.stdout.write(t.slice(written)); written = t.length; };
    const d = session.decoder;
    const t = await decodeText(session.tok, (r) => d.configured(r), prompt, { ...params, maxTokens }, new AbortController().signal, onText);
    const r = t.result;
    const suggestion = postprocess(t.text, cursor);
    const timings = {
      promptMs: round(r.promptMs), decodeMs: round(r.decodeMs),
      promptTokensPerSecond: round(((r.nPrompt - r.nReused) * 1000) / Math.max(1e-9, r.promptMs)),
      tokensPerSecond: round((r.tokens.length * 1000) / Math.max(1e-9, r.decodeMs)),
    };
    const decoding = { mode: r.mode, tau: round(r.tau), steps: r.steps, ...(d.summary.drafter ? { drafter: d.summary.drafter } : {}) };
    if (values.json) {
      printJson(io, { ok: true, text: t.text, suggestion, stop: t.stop, nPrompt: r.nPrompt, timings, decoding });
      return;
    }
    io.stdout.write(t.text.slice(written) + '\n');
    io.stderr.write(`[the editor would show ${JSON.stringify(suggestion)}; ${r.tokens.length} tokens, stop: ${t.stop}; prompt ${r.nPrompt} tokens in ` +
      `${timings.promptMs} ms, decode ${timings.tokensPerSecond} tok/s, ${r.mode}${r.mode === 'speculative' ? ` τ ${decoding.tau} (${d.summary.drafter})` : ''}, ` +
      `${session.describe().model.backend}]\n`);
  } finally {
    await session.close();
  }
}
