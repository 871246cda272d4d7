// The speculative-decoding options of `frspec generate` (--draft/--eagle, FR-Spec --vocab/--vocab-top-k,
// --chain/--tree and their sizes, --context-tokens) and the speculative run itself, kept here so
// generate.ts only spreads the option table in and hands over when a drafter is given.
import { type CommandIO, intOption, printJson, UsageError } from './command';
import { SpecEngine, type SpecGenerateOptions } from '../native/spec';
import type { Tokenizer } from '../native/tokenizer';

export const specOptionDefs = {
  draft: { type: 'string' },
  eagle: { type: 'string' },
  vocab: { type: 'string' },
  'vocab-top-k': { type: 'string' },
  chain: { type: 'string' },
  tree: { type: 'boolean' },
  'tree-depth': { type: 'string' },
  'tree-branch': { type: 'string' },
  'tree-beam': { type: 'string' },
  'tree-nodes': { type: 'string' },
  'context-tokens': { type: 'boolean' },
  lookup: { type: 'string' },
  'lookup-tokens': { type: 'string' },
  'time-budget': { type: 'string' },
  'max-lines': { type: 'string' },
} as const;

export const specHelp = `
speculative decoding (output identical to plain greedy decoding at temperature 0; exact sampling otherwise):
  --draft D.gguf          a draft model with the target's tokenizer (checked at load)
  --eagle E.gguf          an EAGLE head trained on the target's features (give one of --draft/--eagle)
  --vocab V.frv           FR-Spec: the drafter proposes only the top ids of this ranked vocabulary
                          (frspec vocab build); omitted: the full vocabulary
  --vocab-top-k K         how many ranked ids (default 32768; --top-k is the sampling option)
  --chain N               draft a chain of N tokens per step (default 4)
  --tree                  draft an EAGLE-2 dynamic tree instead, sized by
  --tree-depth N  --tree-branch N  --tree-beam N  --tree-nodes N   (defaults 5, 8, 8, 24)
  --context-tokens        also let the drafter propose every token id of the prompt
  --lookup N              greedy chains: first propose the tokens that followed the last N..4 tokens'
                          most recent earlier occurrence in the context; the drafter runs only without one
  --lookup-tokens L       tokens proposed from a lookup match (default 4)
  --time-budget MS        stop MS milliseconds into decoding (after the prompt; checked between steps)
  --max-lines N           stop once the completion holds N newlines
With --json the result adds spec: {drafter, tau, steps, drafted, accepted, headRows, draftMs, verifyMs, lookupSteps}.`;

export interface SpecCliOptions {
  draft?: string;
  eagle?: string;
  request: SpecGenerateOptions;
}

type SpecValues = { [K in keyof typeof specOptionDefs]?: (typeof specOptionDefs)[K]['type'] extends 'boolean' ? boolean : string };

/** The speculative options given, or undefined when neither --draft nor --eagle is (plain decoding). */
export function parseSpecOptions(v: SpecValues): SpecCliOptions | undefined {
  const specOnly = (['vocab', 'vocab-top-k', 'chain', 'tree', 'tree-depth', 'tree-branch', 'tree-beam', 'tree-nodes', 'context-tokens', 'lookup', 'lookup-tokens'] as const)
    .filter((k) => v[k] !== undefined);
  if (!v.draft && !v.eagle) {
    if (specOnly.length) throw new UsageError(`--${specOnly[0]} needs a drafter: --draft D.gguf or --eagle E.gguf`);
    return undefined;
  }
  if (v.draft && v.eagle) throw new UsageError('give one drafter: --draft D.gguf or --eagle E.gguf');
  if (v.chain !== undefined && v.tree) throw new UsageError('--chain and --tree exclude each other');
  if (v['vocab-top-k'] !== undefined && !v.vocab) throw new UsageError('--vocab-top-k needs --vocab V.frv');
  if (v['lookup-tokens'] !== undefined && v.lookup === undefined) throw new UsageError('--lookup-tokens needs --lookup N');
  const request: SpecGenerateOptions = {
    drafter: v.draft ? 'draft' : 'eagle',
    ...(v.vocab ? { vocab: v.vocab, vocabTopK: intOption(v['vocab-top-k'], 'vocab-top-k', 32768, 1, 1 << 24) } : {}),
    contextTokens: v['context-tokens'] === true,
    tree: v.tree === true,
    chain: intOption(v.chain, 'chain', 4, 1, 32),
    depth: intOption(v['tree-depth'], 'tree-depth', 5, 1, 16),
    branch: intOption(v['tree-branch'], 'tree-branch', 8, 1, 32),
    beam: intOption(v['tree-beam'], 'tree-beam', 8, 1, 32),
    nodes: intOption(v['tree-nodes'], 'tree-nodes', 24, 1, 255),
    lookup: intOption(v.lookup, 'lookup', 0, 0, 4),
    lookupTokens: intOption(v['lookup-tokens'], 'lookup-tokens', 4, 1, 32),
    timeBudgetMs: intOption(v['time-budget'], 'time-budget', 0, 0),
    maxLines: intOption(v['max-lines'], 'max-lines', 0, 0),
  };
  return { draft: v.draft, eagle: v.eagle, request };
}

export interface SpecRunInput {
  model: string;
  prompt: number[];
  tok: Tokenizer;
  json: boolean;
  threads: number;
  contextSize: number;
  sampling: { maxTokens: number; temperature: number; topK: number; topP: number; seed: number };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Runs one speculative completion and prints it as `frspec generate` does, plus the speculation stats. */
export async function runSpeculative(spec: SpecCliOptions, input: SpecRunInput, io: CommandIO): Promise<void> {
  const { tok, json } = input;
  const engine = await SpecEngine.load(input.model, {
    draft: spec.draft, eagle: spec.eagle, threads: input.threads,
    contextSize: Math.min(input.contextSize, input.prompt.length + input.sampling.maxTokens + 256),
  });
  try {
    const decoder = tok.streamDecoder();
    const r = await engine.generate(input.prompt, {
      ...spec.request, ...input.sampling, stopTokens: tok.specials.eog,
      onToken: json ? undefined : (ids) => { for (const id of ids) io.stdout.write(decoder.push(id)); },
    });
    const decodeMs = r.totalMs - r.promptMs;
    const timings = {
      promptMs: round(r.promptMs), decodeMs: round(decodeMs),
      promptTokensPerSecond: round(((r.nPrompt - r.nReused) * 1000) / r.promptMs), tokensPerSecond: round(r.tokensPerSecond),
    };
    const stats = {
      drafter: r.drafter, tau: round(r.tau), steps: r.steps, drafted: r.drafted, accepted: r.accepted, headRows: r.headRows,
      draftMs: round(r.draftMs), verifyMs: round(r.verifyMs), lookupSteps: r.lookupSteps,
    };
    if (json) {
      printJson(io, { ok: true, tokens: [...r.tokens], text: tok.decode(r.tokens), stop: r.stop, nPrompt: r.nPrompt, timings, spec: stats });
    } else {
      io.stdout.write(decoder.flush() + '\n');
      io.stderr.write(`[${r.tokens.length} tokens, stop: ${r.stop}; ${r.drafter}${spec.request.vocab ? ` FR-Spec k=${r.headRows}` : ''}, ` +
        `${spec.request.tree ? 'tree' : `chain ${spec.request.chain}`}${spec.request.lookup ? ` + lookup (${r.lookupSteps} of the steps)` : ''}: ` +
        `tau ${stats.tau} over ${r.steps} steps, draft ${stats.draftMs} ms, ` +
        `verify ${stats.verifyMs} ms; decode ${timings.tokensPerSecond} tok/s, ${engine.info.backend}, ${engine.info.threads} threads]\n`);
    }
  } finally {
    await engine.close();
  }
}
