// The sidecar protocol: JSON-RPC 2.0 over stdio (vscode-jsonrpc framing, `Content-Length` headers), shared
// by the sidecar (sidecar/server.ts) and its client (extension/client/). Types and constants only:
// the editor side imports this file without ever loading the native addon. Documented in docs/protocol.md.

export const PROTOCOL_VERSION = 1;

/** Requests (client → sidecar). */
export const Method = {
  initialize: 'initialize',
  complete: 'complete',
  cancel: 'cancel',
  stats: 'stats',
  calibrate: 'calibrate',
  vocabBuild: 'vocab/build',
  vocabLoad: 'vocab/load',
  shutdown: 'shutdown',
} as const;

/** Notifications. */
export const Notify = {
  /** sidecar → client: the text generated so far for a completion with a `streamId`. */
  partial: 'complete/partial',
  /** sidecar → client: progress of a vocabulary build with a `progressToken`. */
  vocabProgress: 'vocab/progress',
  /** sidecar → client: a one-line log message (also written to stderr). */
  log: 'log',
  /** client → sidecar: exit now (after `shutdown`). */
  exit: 'exit',
} as const;

/** Error codes: JSON-RPC's own, the LSP's RequestCancelled, and ours from -32001 down. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  RequestCancelled: -32800,
  NotInitialized: -32001,
  ModelLoadFailed: -32002,
  PromptTooLong: -32003,
  VocabFailed: -32004,
  EngineFailed: -32005,
  ShuttingDown: -32006,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

// ── initialize ────────────────────────────────────────────────────────────────────────────────────
export interface InitializeParams {
  /** The target model (GGUF). */
  model: string;
  /** A draft model of the same tokenizer, or an EAGLE head for the target (speculative decoding). */
  draft?: string;
  eagle?: string;
  /** A frequency-ranked draft vocabulary (.frv) for FR-Spec, and how many of its top ids the drafter uses. */
  vocab?: string;
  topK?: number;
  /** Worker threads (0: all cores). */
  threads?: number;
  /** KV cache size in tokens (default 4096); prompts must fit in it with the completion. */
  contextSize?: number;
  /** Measure plain decoding speed in the background after loading (default true). */
  calibrate?: boolean;
}

/** Names of special tokens a prompt may contain; the sidecar maps them to the model's own ids. */
export type SpecialName = 'bos' | 'eos' | 'fim_prefix' | 'fim_suffix' | 'fim_middle' | 'fim_pad' | 'repo_name' | 'file_sep';

export interface InitializeResult {
  protocolVersion: number;
  model: { path: string; arch: string; nVocab: number; nLayers: number; dModel: number; weightBytes: number; backend: string; threads: number; contextSize: number };
  tokenizer: { fingerprint: string; pre: string; vocabSize: number; addBos: boolean };
  /** The text of each special token the model has (absent = the model has none), e.g. fim_prefix → '<|fim_prefix|>'. */
  specials: Partial<Record<SpecialName, string>>;
  /** 'plain' until a drafter is configured and the speculative engine is available. */
  decoding: DecodingSummary;
  vocab?: VocabSummary;
  limits: Limits;
}

export interface DecodingSummary {
  /** What the settings ask for. */
  mode: 'plain' | 'speculative';
  /** What completions use now: 'plain' when calibration measured speculation slower on this machine. */
  active: 'plain' | 'speculative';
  drafter?: string;
  /** Why speculative decoding is not used, when it was asked for. */
  note?: string;
}

export interface Limits {
  /** Prompt tokens accepted (contextSize minus the largest completion). */
  maxPromptTokens: number;
  /** Characters of prompt text accepted before tokenizing. */
  maxPromptChars: number;
  maxTokens: number;
}

// ── complete ──────────────────────────────────────────────────────────────────────────────────────
/** A piece of a prompt: plain text (always tokenized as text) or a special token by name. */
export type PromptPart = string | { special: SpecialName };

export interface CompleteParams {
  parts: PromptPart[];
  /** Tokens to generate at most (default 64). */
  maxTokens?: number;
  /** When set, `complete/partial` notifications carry the text so far under this id. */
  streamId?: string;
  /** Stop (and leave out) at the first of these strings in the generated text. */
  stopSequences?: string[];
  /** Stop after this many complete lines. */
  maxLines?: number;
  /** Stop at the first empty line after some text (a blank line ends a block). */
  stopAtBlankLine?: boolean;
  /** Only warming the KV cache for this prompt (e.g. a file got focus): not counted in the statistics. */
  warmup?: boolean;
  /** Stop decoding this many ms after the first token (prompt processing not counted) and return the text so far. */
  timeBudgetMs?: number;
  /**
   * The prompt processing this request may spend, in ms: the FIM suffix (the text between `fim_suffix` and
   * `fim_middle`, re-evaluated on every keystroke) is cut at a line end to what the measured prompt speed
   * evaluates in this time. Not a hard stop. 0 or absent: the suffix is kept whole.
   */
  promptBudgetMs?: number;
  /**
   * Also return up to this many other suggestions (0-4, default 0): the target's next-best first tokens after
   * the greedy one, each continued greedily with the same stop rules, ranked by that first token's logit.
   */
  alternatives?: number;
}

/** Another suggestion: starts with the target's next-best first token (`logit`), then decodes greedily. */
export interface CompleteAlternative { text: string; stop: CompleteStop; logit: number }

export type CompleteStop = 'end_of_text' | 'max_tokens' | 'stop_sequence' | 'max_lines' | 'blank_line' | 'context_full' | 'time_budget';

export interface CompleteResult {
  text: string;
  stop: CompleteStop;
  stats: CompletionStats;
  /** With `alternatives` > 0: the other suggestions, best first, distinct from `text` and from each other. */
  alternatives?: CompleteAlternative[];
}

export interface CompletionStats {
  promptTokens: number;
  /** Prompt tokens whose KV cache was reused from the previous request. */
  reusedTokens: number;
  tokens: number;
  /** Waiting for the request before it (superseded requests are cancelled, so this stays short). */
  queueMs: number;
  promptMs: number;
  decodeMs: number;
  /** Request received → first token; request received → response. */
  firstTokenMs: number;
  totalMs: number;
  tokensPerSecond: number;
  /** Target forward passes for the decoded tokens, and tokens per pass (τ; 1 for plain decoding). */
  steps: number;
  tau: number;
  mode: 'plain' | 'speculative';
  /**
   * Speculative: per draft position (index 0 = the first token drafted below the last emitted one), tokens
   * drafted there and how many of them were accepted; sums: drafted and accepted tokens. Absent for plain.
   */
  draftedAt?: number[];
  acceptedAt?: number[];
  /** Speculative: the drafter's reading of the prompt (part of promptMs), drafting and verification (of decodeMs). */
  draftPromptMs?: number;
  draftMs?: number;
  verifyMs?: number;
  /** Why `mode` served this request (chosen per request from measured costs). */
  why?: string;
  /** Suffix tokens left out to fit `promptBudgetMs`. */
  suffixCutTokens?: number;
}

export interface CompletePartial { streamId: string; text: string }

// ── cancel / stats / calibrate ────────────────────────────────────────────────────────────────────
/** Cancels the completion with this streamId, or every queued and running completion. */
export interface CancelParams { streamId?: string }
export interface CancelResult { cancelled: number }

export interface Calibration {
  /** Plain greedy decoding of this model on this machine (tokens/s), on a fixed code prompt. */
  plainTokensPerSecond: number;
  /** The configured decoder on the same prompt (equal to plain when decoding is plain). */
  decoderTokensPerSecond: number;
  tau: number;
  tokens: number;
  runs: number;
  at: number;
}

export interface StatsResult {
  decoding: DecodingSummary;
  requests: { received: number; completed: number; cancelled: number; superseded: number; failed: number };
  /** Over the recent completions (up to the last 100 with at least one token). */
  recent: {
    count: number;
    tokensPerSecond: number;
    tau: number;
    latencyMs: { p50: number; p95: number };
    firstTokenMs: { p50: number; p95: number };
    reusedShare: number;
    /** The recent speculative completions' draftedAt / acceptedAt added up per position (absent without any). */
    draftedAt?: number[];
    acceptedAt?: number[];
  };
  calibration?: Calibration;
  /** Measured: recent tokens/s of the decoder ÷ calibrated plain tokens/s (undefined until both exist). */
  speedup?: number;
  vocab?: VocabSummary;
  memory: { rssBytes: number; heapUsedBytes: number };
  uptimeMs: number;
}

// ── vocabulary ────────────────────────────────────────────────────────────────────────────────────
export interface VocabBuildParams {
  /** The folder to count (the workspace). */
  folder: string;
  /** Where to write the .frv file. */
  out: string;
  /** Where the per-file count cache lives (default: beside `out`). */
  cacheFile?: string;
  /** Progress notifications carry this token. */
  progressToken?: string;
  /** Use the new vocabulary at once (default true). */
  load?: boolean;
}

export interface VocabProgress { token: string; files: number; filesTotal?: number; tokens: number; fraction: number }

export interface VocabSummary {
  file: string;
  fingerprint: string;
  files: number;
  bytes: number;
  tokens: number;
  distinct: number;
  createdAt: number;
  /** Share of the corpus's tokens covered by the top k ids. */
  coverage: { k: number; share: number }[];
  /** The k the drafter uses. */
  topK: number;
}

export interface VocabBuildResult extends VocabSummary {
  ms: number;
  filesFromCache: number;
  filesTokenized: number;
  loaded: boolean;
}

export interface VocabLoadParams { file: string; topK?: number }
