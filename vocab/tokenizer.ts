// What the vocabulary builder needs from a tokenizer: the target model's own (native/tokenizer.ts
// satisfies it structurally), so counts are in the ids the drafter's LM head rows are indexed by.

/** Special token ids of a model; -1 = the model has none. */
export interface SpecialTokens {
  bos: number; eos: number; eot: number; eom?: number; pad: number;
  fimPre: number; fimSuf: number; fimMid: number; fimPad: number; fimRep: number; fimSep: number;
  /** Every id that ends a generation (EOS, EOT, <|im_end|>, ...), when the tokenizer knows them. */
  eog?: readonly number[];
}

export interface CountingTokenizer {
  readonly vocabSize: number;
  /** Hash of the token list and pre-tokenizer: equal fingerprints = identical token ids. */
  readonly fingerprint: string;
  /** Pre-tokenizer name (tokenizer.ggml.pre), for humans reading a mismatch message. */
  readonly pre: string;
  readonly specials: SpecialTokens;
  /** Tokenizes text as data: special-token spellings in it stay ordinary text. */
  encode(text: string): Int32Array;
}
