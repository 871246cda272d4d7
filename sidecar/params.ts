// The ranges of every request's parameters (documented in docs/protocol.md): each request's params are
// read here into a clean object, or refused with -32602 naming the field and its range.
import * as os from 'node:os';
import { type CompleteParams, type InitializeParams, Method, type VocabBuildParams } from './protocol';
import { Fields, invalid } from './validate';

/** Context sizes accepted (tokens of KV cache). */
export const MIN_CONTEXT = 256;
export const MAX_CONTEXT = 131072;
/** FR-Spec's top k (the largest tokenizers have ~256k ids; more is refused rather than clamped). */
export const MAX_TOP_K = 1 << 20;
/** A time budget longer than this is a mistake, not a budget (and setTimeout overflows past 2^31-1 ms). */
export const MAX_TIME_BUDGET_MS = 600_000;
export const MAX_STOP_SEQUENCES = 16;
export const MAX_STOP_SEQUENCE_CHARS = 256;
export const MAX_LINES = 10_000;
/** streamId and progressToken. */
export const MAX_ID_CHARS = 256;
/** Other suggestions a completion may ask for (each costs a greedy decode). */
export const MAX_ALTERNATIVES = 4;

/** Worker threads accepted: 0 (all cores) up to the cores this machine has. */
export function maxThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

export function initializeParams(raw: InitializeParams): InitializeParams {
  const f = new Fields(Method.initialize, raw as never);
  const p: InitializeParams = { model: f.path('model', true) };
  const draft = f.path('draft'), eagle = f.path('eagle'), vocab = f.path('vocab');
  if (draft !== undefined) p.draft = draft;
  if (eagle !== undefined) p.eagle = eagle;
  if (vocab !== undefined) p.vocab = vocab;
  const topK = f.int('topK', 1, MAX_TOP_K);
  if (topK !== undefined) p.topK = topK;
  const threads = f.int('threads', 0, maxThreads());
  if (threads !== undefined) p.threads = threads;
  const contextSize = f.int('contextSize', MIN_CONTEXT, MAX_CONTEXT);
  if (contextSize !== undefined) p.contextSize = contextSize;
  const calibrate = f.optBool('calibrate');
  if (calibrate !== undefined) p.calibrate = calibrate;
  return p;
}

/** `parts` is passed through as it came (prompt.ts checks its shape and size while encoding it). */
export function completeParams(raw: CompleteParams, maxTokensLimit: number): CompleteParams {
  const f = new Fields(Method.complete, raw as never);
  const p: CompleteParams = { parts: f.get('parts') as CompleteParams['parts'], maxTokens: f.int('maxTokens', 1, maxTokensLimit, 64) };
  const streamId = f.str('streamId', { maxLength: MAX_ID_CHARS });
  if (streamId !== undefined) p.streamId = streamId;
  const stopSequences = f.strings('stopSequences', MAX_STOP_SEQUENCES, MAX_STOP_SEQUENCE_CHARS);
  if (stopSequences !== undefined) p.stopSequences = stopSequences;
  const maxLines = f.int('maxLines', 1, MAX_LINES);
  if (maxLines !== undefined) p.maxLines = maxLines;
  const stopAtBlankLine = f.optBool('stopAtBlankLine');
  if (stopAtBlankLine !== undefined) p.stopAtBlankLine = stopAtBlankLine;
  const warmup = f.optBool('warmup');
  if (warmup !== undefined) p.warmup = warmup;
  const alternatives = f.int('alternatives', 0, MAX_ALTERNATIVES);
  if (alternatives !== undefined) p.alternatives = alternatives;
  // Every time budget (timeBudgetMs and any *BudgetMs field the protocol has): milliseconds, 0 = none.
  for (const key of Object.keys(raw)) {
    if (!/BudgetMs$/.test(key)) continue;
    const v = f.get(key);
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_TIME_BUDGET_MS) {
      throw invalid(Method.complete, key, `a number of milliseconds from 0 (none) to ${MAX_TIME_BUDGET_MS}`, v);
    }
    (p as unknown as Record<string, number>)[key] = v;
  }
  return p;
}

export function vocabBuildParams(raw: VocabBuildParams): VocabBuildParams {
  const f = new Fields(Method.vocabBuild, raw as never);
  const p: VocabBuildParams = { folder: f.path('folder', true), out: f.path('out', true) };
  const cacheFile = f.path('cacheFile');
  if (cacheFile !== undefined) p.cacheFile = cacheFile;
  const progressToken = f.str('progressToken', { maxLength: MAX_ID_CHARS });
  if (progressToken !== undefined) p.progressToken = progressToken;
  const load = f.optBool('load');
  if (load !== undefined) p.load = load;
  return p;
}
