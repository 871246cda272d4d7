// Typed access to the native byte-level BPE tokenizer of a GGUF model (native/src/tokenizer).
// Text is always plain text: encode() never produces a control token, whatever the text contains.
import { addon } from './addon';

/** Token ids with a role; -1 when the model has none. */
export interface SpecialTokens {
  bos: number; eos: number; eot: number; eom: number; pad: number;
  fimPre: number; fimSuf: number; fimMid: number; fimPad: number; fimRep: number; fimSep: number;
  /** Whether prompts of this model start with BOS. */
  addBos: boolean;
  /** Every id that ends a generation (EOS, EOT, FIM pad/rep/sep, <|im_end|>, ...), ascending. */
  eog: number[];
}

export interface TokenStreamDecoder {
  /** Text completed by this token; a UTF-8 character split across tokens waits for its last byte. */
  push(id: number): string;
  /** Whatever is still held back (an incomplete character becomes U+FFFD). */
  flush(): string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  /** sha256 hex of the token texts and the pre-tokenizer name (see native/src/tokenizer/README.md). */
  readonly fingerprint: string;
  /** The GGUF `tokenizer.ggml.pre` name, e.g. 'qwen2'. */
  readonly pre: string;
  readonly specials: SpecialTokens;
  /** Token ids of text (a string, or raw bytes which need not be valid UTF-8). No BOS is added. */
  encode(text: string | Uint8Array): Int32Array;
  /** The text of the ids; bytes that are not valid UTF-8 read as U+FFFD. Throws RangeError for a bad id. */
  decode(ids: ArrayLike<number>): string;
  /** The exact bytes of the ids. */
  decodeBytes(ids: ArrayLike<number>): Buffer;
  /** Adds each token of text into counts[id] (counts.length >= vocabSize); returns the number of tokens. */
  countInto(text: string | Uint8Array, counts: Uint32Array): number;
  /** countInto for many texts, on a worker thread; counts is updated when the promise resolves. */
  countFilesAsync(texts: Array<string | Uint8Array>, counts: Uint32Array): Promise<number>;
  /** The token's bytes read as UTF-8 (a token holding part of a character shows U+FFFD; tokenBytes is exact). */
  tokenText(id: number): string;
  tokenBytes(id: number): Buffer;
  /** A control/marker token that encode() never produces (only added by id). */
  isSpecial(id: number): boolean;
  streamDecoder(): TokenStreamDecoder;
}

/** Loads the tokenizer of a GGUF model; throws an Error naming the file and problem (e.g. not `gpt2`). */
export function openTokenizer(ggufPath: string): Tokenizer {
  const t = new (addon().Tokenizer)(ggufPath);
  return {
    vocabSize: t.vocabSize,
    fingerprint: t.fingerprint,
    pre: t.pre,
    specials: t.specials,
    encode: (text) => t.encode(text),
    decode: (ids) => t.decode(toIds(ids)),
    decodeBytes: (ids) => t.decodeBytes(toIds(ids)),
    countInto: (text, counts) => t.countInto(text, counts),
    countFilesAsync: (texts, counts) => t.countFilesAsync(texts, counts),
    tokenText: (id) => t.tokenText(id),
    tokenBytes: (id) => t.tokenBytes(id),
    isSpecial: (id) => t.isSpecial(id),
    streamDecoder: () => t.streamDecoder(),
  };
}

function toIds(ids: ArrayLike<number>): Int32Array | Uint32Array | number[] {
  if (ids instanceof Int32Array || ids instanceof Uint32Array || Array.isArray(ids)) return ids as Int32Array | number[];
  return Array.from(ids);
}
