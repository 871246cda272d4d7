// frspec generate: complete a prompt (or a fill-in-the-middle prefix/suffix) with the native engine.
import { type Command, floatOption, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { Engine, estimateMemory } from '../../native/engine';
import { openTokenizer } from '../../native/tokenizer';
import { parseSpecOptions, runSpeculative, specHelp, specOptionDefs } from '../spec-options';
import { readRegularFile } from '../../common/safe-fs';

/** Prompt files are read whole: a limit keeps /dev/zero or a huge file from filling memory. */
const MAX_PROMPT_FILE_BYTES = 64 << 20;

export const generate: Command = {
  name: ['generate'],
  summary: 'complete a prompt or a fill-in-the-middle prefix/suffix with a GGUF model',
  help: `usage: frspec generate --model M.gguf (--prompt TEXT | --prompt-file F | --fim-prefix-file P --fim-suffix-file S)
                       [-n 64] [--temperature 0] [--top-k 0] [--top-p 1] [--seed 0] [--threads N]
                       [--context 4096] [--json]

Prints the completion as it is generated. The prompt is plain text: special-token markup typed in it
(e.g. <|fim_prefix|>) stays text. With --fim-prefix-file/--fim-suffix-file the prompt is the model's
fill-in-the-middle layout (prefix, suffix, then the middle marker). Generation stops after -n tokens or
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
      ...specOptionDefs,
    });
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
      const prefix = tok.encode(read(values['fim-prefix-file']));
      const suffix = tok.encode(read(values['fim-suffix-file']!));
      prompt = [sp.fimPre, ...prefix, sp.fimSuf, ...suffix, sp.fimMid];
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
