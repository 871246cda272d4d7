// Typed access to speculative decoding: the engine's one native object (native/addon/bind_engine.cpp, its
// completion call bind_complete.cpp) loaded with a draft model and/or an EAGLE head beside the target; each
// generate() chooses its drafter ('none' = plain decoding, the baseline), its FR-Spec vocabulary (a .frv file
// and top-k; omitted = full vocabulary) and its draft shape. Calls are queued so they run one at a time; an
// AbortSignal cancels between steps.
import { addon } from './addon';
import { CallQueue } from './call-queue';
import type { ModelInfo, StopReason } from './engine';

export interface SpecLoadOptions {
  /** A separate draft model with the target's tokenizer (checked at load). */
  draft?: string;
  /** An EAGLE head trained on the target's features. */
  eagle?: string;
  /** Worker threads (0 or absent: all cores). */
  threads?: number;
  /** KV cache capacity in tokens (default 4096). */
  contextSize?: number;
  backend?: 'cpu' | 'cuda' | 'auto';
}

/** The target model's facts (ModelInfo: its path, shape, weight bytes, backend) and the drafters loaded. */
export interface SpecInfo extends ModelInfo {
  /** The target model's path (= path). */
  target: string;
}

/** How drafted tokens are laid out: a chain of `chain` tokens, or an EAGLE-2 dynamic tree. */
export interface DraftShapeOptions {
  /** Tree drafting (default: chain). */
  tree?: boolean;
  /** Chain: tokens drafted per step (default 4). */
  chain?: number;
  /** Tree: levels (default 5). */
  depth?: number;
  /** Tree: children proposed per expanded node (default 8). */
  branch?: number;
  /** Tree: nodes expanded per level, by cumulative draft probability (default 8). */
  beam?: number;
  /** Tree: nodes kept for verification (default 24). */
  nodes?: number;
  /**
   * Greedy chains: first look the continuation up in the context (prompt lookup for code): the tokens after
   * the most recent earlier occurrence of the last 4..`lookup` tokens; the drafter runs only without a match.
   * 0 (default): off; 1-4.
   */
  lookup?: number;
  /** Context lookup: tokens proposed per step (default 4). */
  lookupTokens?: number;
  /**
   * Context lookup also searches these ids, as if they came before the prompt (ids < 0 separate pieces; others
   * must be in the target's vocabulary): e.g. the previous keystroke's prompt tail and completion, which the
   * next keystroke's completion mostly repeats. Drafts only: the output stays exact.
   */
  lookupHistory?: Int32Array | number[];
}

export interface SpecGenerateOptions extends DraftShapeOptions {
  /** 'eagle' (default when loaded), 'draft', or 'none' for plain decoding. */
  drafter?: 'none' | 'draft' | 'eagle';
  /** FR-Spec: the ranked vocabulary (.frv) whose top `vocabTopK` ids the drafter may propose. */
  vocab?: string;
  /** FR-Spec k (default 32768). */
  vocabTopK?: number;
  /** Also let the drafter propose every token id of this prompt (local identifiers). */
  contextTokens?: boolean;
  maxTokens?: number;
  /** 0 (default): greedy; the output is then token for token the target's greedy decoding. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Token ids that end generation (not included), e.g. EOS/EOT. */
  stopTokens?: ArrayLike<number>;
  /** Wall-clock budget in ms for decoding (prompt processing not counted), checked between steps. */
  timeBudgetMs?: number;
  /**
   * Prompt tokens evaluated between two looks at the cancel signal (default: 64 on the CPU, the batch size on
   * a GPU; 0: the batch size): a newer request waits for at most one such chunk of a stale prompt.
   */
  prefillChunk?: number;
  /**
   * A draft model reads only about the prompt's last `draftWindow` tokens (up to twice that, so that typing
   * reuses its cache); 0 (default): all. EAGLE reads all. Output is unchanged (the target verifies).
   */
  draftWindow?: number;
  /**
   * Plain decoding through the speculative loop (nothing drafted, one token per target pass): with EAGLE it
   * keeps the target's stored features in step, so the next speculative request reuses the whole cache.
   */
  noDraft?: boolean;
  /** Stop (between steps) once the output holds this many newlines. */
  maxLines?: number;
  /**
   * No decoding: `tokens` are the prompt's `topFirst` most likely first tokens (best first) and `topLogits`
   * their logits; the prompt's cached prefix is kept (after its completion, only its last token is evaluated).
   */
  topFirst?: number;
  signal?: AbortSignal;
  onToken?: (ids: Int32Array) => void;
}

export type SpecStopReason = StopReason | 'time_budget' | 'stop_check';

export interface SpecResult {
  tokens: Int32Array;
  stop: SpecStopReason;
  stopToken: number;
  drafter: 'none' | 'draft-model' | 'eagle';
  nPrompt: number;
  nReused: number;
  /** Target evaluations after the prompt (speculative: = steps; plain: one per token after the first). */
  nDecodeSteps: number;
  /** Target forward passes after the prompt (verify steps; plain decoding: one per token). */
  steps: number;
  drafted: number;
  accepted: number;
  /** Mean tokens per step, the target's own token included (acceptance length). */
  tau: number;
  /** Columns of the draft head (FR-Spec k plus prompt ids; the vocabulary when full). */
  headRows: number;
  promptMs: number;
  /** Decoding after the prompt (totalMs - promptMs). */
  decodeMs: number;
  draftMs: number;
  /** Verification (plain decoding: all decode steps). */
  verifyMs: number;
  /** Of verifyMs: the target's layers over the root and drafted tokens (the rest is LM head rows). */
  verifyLayersMs: number;
  /** Rows the target's LM head was computed for (only those verification reached). */
  verifyRows: number;
  /** Steps whose draft came from the context (lookup), not the drafter. */
  lookupSteps: number;
  /** Of promptMs: the drafter reading the prompt. */
  draftPromptMs: number;
  /** Prompt tokens the drafter evaluated (those its cache did not hold; at most about draftWindow). */
  draftPromptTokens: number;
  totalMs: number;
  /**
   * Per draft position (index 0 = the first drafted token below the root, 1 = the second, ...): tokens drafted
   * there and verified (a tree drafts several per step; context lookup's drafts included), and how many of them
   * the target accepted (at most one per step). They sum to `drafted` and `accepted`; empty for plain decoding.
   */
  draftedAt: number[];
  acceptedAt: number[];
  /** Generated tokens per second after the prompt. */
  tokensPerSecond: number;
  /** With `topFirst`: the logits of `tokens`. */
  topLogits?: Float32Array;
}

interface NativeSpecEngine {
  info(): ModelInfo;
  generate(tokens: Int32Array, opts: object, onToken?: (ids: Int32Array) => void): Promise<SpecResult>;
  cancel(): void;
  close(): void;
}

export class SpecEngine {
  private readonly calls = new CallQueue(() => this.native.cancel());
  private constructor(private readonly native: NativeSpecEngine, readonly info: SpecInfo) {}

  /** Loads the target and drafters (off the JS thread); rejects naming the file and the problem. */
  static async load(targetPath: string, opts: SpecLoadOptions = {}): Promise<SpecEngine> {
    // Up to 256 verify rows: a verified tree (the plain engine's default is 64).
    const native: NativeSpecEngine = await addon().loadModel(targetPath, { maxBatch: 256, maxLogitRows: 256, ...opts });
    const info: ModelInfo = native.info();
    return new SpecEngine(native, { ...info, target: info.path });
  }

  generate(prompt: ArrayLike<number>, opts: SpecGenerateOptions = {}): Promise<SpecResult> {
    const { signal, onToken, stopTokens, ...rest } = opts;
    const args = { ...rest, ...(stopTokens ? { stopTokens: Int32Array.from(stopTokens) } : {}) };
    return this.run(signal, () => this.native.generate(Int32Array.from(prompt), args, onToken));
  }

  close(): Promise<void> {
    return this.run(undefined, async () => this.native.close());
  }

  private run<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    return this.calls.run(signal, call);
  }
}
