// Typed access to the native inference engine (native/addon/bind_engine.cpp): a loaded model, its plain
// completion (generate) and the model calls the tests and benchmarks use (eval, truncate, keep). The same
// native object, loaded with a drafter, is spec.ts's SpecEngine (speculative completions: bind_complete.cpp).
// Every computing call runs off the JS thread and returns a Promise; calls on one engine are queued here so
// they run one at a time, and an AbortSignal cancels a call between steps (prompt chunks or decoded tokens).
import { addon } from './addon';
import { CallQueue } from './call-queue';

export interface EngineOptions {
  /** Worker threads (0 or absent: all cores). */
  threads?: number;
  /** KV cache capacity in tokens (default 4096). */
  contextSize?: number;
  /** Tokens per forward pass; longer prompts are evaluated in chunks (default 256). */
  maxBatch?: number;
  /** Rows of logits one eval() may return (default 64). */
  maxLogitRows?: number;
  /** 'cpu' (default), 'cuda', or 'auto' (CUDA when available and it runs every weight type, else the CPU). */
  backend?: 'cpu' | 'cuda' | 'auto';
}

export interface ModelInfo {
  path: string;
  arch: 'qwen2' | 'llama';
  nVocab: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dFf: number;
  nCtxTrain: number;
  ropeTheta: number;
  tiedOutput: boolean;
  /** Bytes of all weights (mmapped). */
  weightBytes: number;
  /** Bytes of weights a decode step reads with the full LM head (every matrix, one embedding row, the head). */
  bytesPerToken: number;
  /** Bytes of the LM head (greedy decoding on the CPU reads an 8-bit copy of a float head instead). */
  lmHeadBytes: number;
  backend: string;
  /** Why CUDA was not used when it was asked for with 'auto'. */
  backendNote?: string;
  threads: number;
  contextSize: number;
  maxBatch: number;
  maxLogitRows: number;
  /** The drafters loaded with the model (spec.ts), and then the target's tokenizer fingerprint. */
  tokenizerFingerprint?: string;
  draft?: string;
  eagle?: string;
}

export interface MemoryEstimate {
  /** Weights (mmapped, not copied). */
  weights: number;
  kvCache: number;
  /** Activation and logits buffers. */
  scratch: number;
  /** CPU greedy decoding with a float LM head: its 8-bit copy (see native/src/engine/cpu_argmax_filter.h). */
  argmaxFilter: number;
  total: number;
}

export interface GenerateOptions {
  maxTokens?: number;
  /**
   * Prompt tokens evaluated between two looks at the cancel signal (default: 64 on the CPU, the batch size on
   * a GPU; 0: the batch size): a newer request waits for at most one such chunk of a stale prompt.
   */
  prefillChunk?: number;
  /** 0 (default): greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Token ids that end generation (not included in the result), e.g. EOS/EOT. */
  stopTokens?: ArrayLike<number>;
  signal?: AbortSignal;
  /** Called with newly generated token ids as they are produced. */
  onToken?: (ids: Int32Array) => void;
}

export type StopReason = 'stop_token' | 'max_tokens' | 'context_full' | 'cancelled';

export interface GenerateResult {
  tokens: Int32Array;
  stop: StopReason;
  stopToken: number;
  nPrompt: number;
  /** Prompt tokens whose KV cache was reused from the previous request. */
  nReused: number;
  nDecodeSteps: number;
  promptMs: number;
  decodeMs: number;
}

export interface EvalOptions {
  /** RoPE position per token (default: the slot index, i.e. nPast + i). */
  positions?: ArrayLike<number>;
  /** n*n attention mask over the new tokens (1 = may attend); default causal. */
  mask?: Uint8Array;
  /** Which rows get logits (default 'last'). */
  logits?: 'none' | 'last' | 'all' | ArrayLike<number>;
  /** Also return the final (normed) hidden states of every token. */
  hidden?: boolean;
  signal?: AbortSignal;
}

export interface EvalResult { logits: Float32Array; rows: number; vocab: number; hidden?: Float32Array }

interface NativeEngine {
  info(): ModelInfo;
  generate(tokens: Int32Array, opts: object, onToken?: (ids: Int32Array) => void): Promise<GenerateResult>;
  eval(tokens: Int32Array, opts: object): Promise<EvalResult>;
  truncate(n: number): void;
  keep(base: number, slots: Int32Array): void;
  tokens(): Int32Array;
  cancel(): void;
  close(): void;
}

const toInt32 = (a: ArrayLike<number>) => (a instanceof Int32Array ? a : Int32Array.from(a));

/** Memory a model needs for a context, computed from the file's header before loading it. */
export function estimateMemory(modelPath: string, opts: EngineOptions = {}): MemoryEstimate {
  return addon().estimateMemory(modelPath, opts);
}

export class Engine {
  private readonly calls = new CallQueue(() => this.native.cancel());
  private constructor(private readonly native: NativeEngine, readonly info: ModelInfo) {}

  /** Maps and validates the model (off the JS thread); rejects with a message naming the file and tensor. */
  static async load(modelPath: string, opts: EngineOptions = {}): Promise<Engine> {
    const native: NativeEngine = await addon().loadModel(modelPath, opts);
    return new Engine(native, native.info());
  }

  /** Greedy or sampled completion of `prompt` (token ids), reusing the cached common prefix. */
  generate(prompt: ArrayLike<number>, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const { signal, onToken, stopTokens, ...rest } = opts;
    const args = { ...rest, drafter: 'none', ...(stopTokens ? { stopTokens: toInt32(stopTokens) } : {}) };
    return this.run(signal, () => this.native.generate(toInt32(prompt), args, onToken));
  }

  /** One forward pass over `tokens` appended to the cache. */
  eval(tokens: ArrayLike<number>, opts: EvalOptions = {}): Promise<EvalResult> {
    const { signal, positions, logits, ...rest } = opts;
    const args = {
      ...rest,
      ...(positions ? { positions: toInt32(positions) } : {}),
      ...(logits === undefined || typeof logits === 'string' ? { logits } : { logits: toInt32(logits) }),
    };
    return this.run(signal, () => this.native.eval(toInt32(tokens), args));
  }

  /** Rolls the cache back to its first n tokens (waits for queued calls). */
  truncate(n: number): Promise<void> {
    return this.run(undefined, async () => this.native.truncate(n));
  }

  /**
   * Keeps cached slots `slots` (increasing, all >= base) as slots base, base+1, ... and forgets the rest:
   * the accepted path after evaluating a tree of drafted tokens.
   */
  keep(base: number, slots: ArrayLike<number>): Promise<void> {
    return this.run(undefined, async () => this.native.keep(base, toInt32(slots)));
  }

  /** The token ids whose K/V are cached, in order. */
  cachedTokens(): Promise<Int32Array> {
    return this.run(undefined, async () => this.native.tokens());
  }

  /** Frees the model and its cache after queued calls finish. */
  close(): Promise<void> {
    return this.run(undefined, async () => this.native.close());
  }

  private run<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    return this.calls.run(signal, call);
  }
}
