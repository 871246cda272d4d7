// A slow, independent reference tokenizer for property tests: the pre-tokenizer patterns written as
// JavaScript regular expressions (the patterns of the models' tokenizer.json, with llama.cpp's spelling of
// the case-insensitive contractions) and textbook BPE over strings. It shares no code with the native one.
import { openGguf } from '../../native/gguf';
import { BYTE_CHARS } from '../../fixtures/tokenizer-vocab';

// \s as Unicode White_Space (JavaScript's \s differs: it has U+FEFF and lacks U+0085).
const WS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const S = `[${WS}]`;
const NOT_S = `[^${WS}]`;
const gpt4Style = (digits: string) => new RegExp(
  `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${digits}` +
  `| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`, 'gu');

// Each regex splits every piece of the previous one; matches and the gaps between them become pieces.
const PRE: Record<string, RegExp[]> = {
  'qwen2': [gpt4Style('')],
  'llama-bpe': [gpt4Style('{1,3}')],
  'deepseek-coder': [/[\r\n]/gu, new RegExp(`${S}?\\p{L}+`, 'gu'), new RegExp(`${S}?\\p{P}+`, 'gu'),
    /[一-龥ࠀ-一가-퟿]+/gu, /\p{N}/gu],
};

export function preTokenize(pre: string, text: string): string[] {
  let pieces = [text];
  for (const re of PRE[pre]) {
    const next: string[] = [];
    for (const p of pieces) {
      let last = 0;
      for (const m of p.matchAll(re)) {
        if (m.index! > last) next.push(p.slice(last, m.index));
        next.push(m[0]);
        last = m.index! + m[0].length;
      }
      if (last < p.length) next.push(p.slice(last));
    }
    pieces = next;
  }
  return pieces;
}

export class ReferenceTokenizer {
  private ids = new Map<string, number>();
  private ranks = new Map<string, number>();
  private added: Array<[string, number]> = [];  // USER_DEFINED words matched in text, longest first

  constructor(readonly pre: string, tokens: string[], types: number[], merges: string[], private ignoreMerges: boolean,
    roleIds: number[] = []) {
    tokens.forEach((t, id) => {
      if (types[id] === 1) this.ids.set(t, id);
      const marker = /^<.*>$|^\[.*\]$/su.test(t);
      if (types[id] === 4 && !marker && !roleIds.includes(id) && t.length > 0) this.added.push([t, id]);
    });
    this.added.sort((a, b) => Buffer.byteLength(b[0]) - Buffer.byteLength(a[0]));
    merges.forEach((m, rank) => { if (!this.ranks.has(m)) this.ranks.set(m, rank); });
  }

  static fromGguf(file: string, roleIds: number[] = []): ReferenceTokenizer {
    const f = openGguf(file);
    const pre = f.get('tokenizer.ggml.pre') as string;
    return new ReferenceTokenizer(pre, f.get('tokenizer.ggml.tokens') as string[], f.get('tokenizer.ggml.token_type') as number[],
      f.get('tokenizer.ggml.merges') as string[], pre === 'llama-bpe', roleIds);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    let plain = '';
    for (let i = 0; i < text.length;) {
      const hit = this.added.find(([w]) => text.startsWith(w, i));
      if (hit) {
        this.encodePlain(plain, out);
        plain = '';
        out.push(hit[1]);
        i += hit[0].length;
      } else {
        plain += text[i++];
      }
    }
    this.encodePlain(plain, out);
    return out;
  }

  private encodePlain(text: string, out: number[]): void {
    if (!text) return;
    for (const piece of preTokenize(this.pre, text)) {
      const word = [...Buffer.from(piece, 'utf8')].map((b) => BYTE_CHARS[b]);
      const whole = word.join('');
      if (this.ignoreMerges && this.ids.has(whole)) {
        out.push(this.ids.get(whole)!);
        continue;
      }
      for (;;) {  // merge the lowest-ranked adjacent pair, the leftmost on ties
        let best = -1, bestRank = Infinity;
        for (let i = 0; i + 1 < word.length; i++) {
          const r = this.ranks.get(word[i] + ' ' + word[i + 1]);
          if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
        }
        if (best < 0) break;
        word.splice(best, 2, word[best] + word[best + 1]);
      }
      for (const sym of word) {
        const id = this.ids.get(sym);
        if (id === undefined) throw new Error(`reference: '${sym}' is not a token`);
        out.push(id);
      }
    }
  }
}

/** A seeded generator (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters whose Unicode classes have been stable for many versions (our table is Unicode 14, Node's
// regex engine may be newer): ASCII, Latin, Greek, Cyrillic, CJK, Hangul, Arabic digits, emoji and other
// astral characters, combining marks, every kind of space, controls, joiners.
const POOL: string[] = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...' \t\n\r\n  ...,;:!?\'"`~@#$%^&*()[]{}<>/\\|-_=+',
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re",
  '    ', '\n\n', '\r\n', ' \n ', '\t\t', '   \n',
  ...'éèêëàâäçñöüßøåæœÀÉÖÜÿ', ...'αβγδεζΩΣπ', ...'абвгдежзЯЖ', ...'中文字符测试一龥', ...'한국어가힣',
  ...'٠١٢٣٤٥٦٧٨٩', ...'０１２３', ...'²³¹½¾', ...'ⅫⅣ', ...'¿¡«»—–…、。「」', ...'€©±→∑√', 
  '\u0301', '\u0308', '\u0327', '\u20dd', '\u00a0', '\u2003', '\u3000', '\u0085', '\u2028', '\u200b', '\u200d', '\ufeff',
  '\u0000', '\u0007', '\u007f', '\u001f',
  '😀', '👍🏽', '👨‍👩‍👧', '🇩🇪', '𝐀', '𝔘', '𠀀', '𐍈', '🤖', '🀄',
  'def ', 'return ', 'function(', '=>', '});', '<|fim_prefix|>', '<|endoftext|>', '<｜fim▁hole｜>', 'õ', 'ü',
  '1234567', '3.14159', '0xFF', '\\n', '"""', '/* */', '// ',
];

export function randomText(r: () => number, maxParts = 24): string {
  let s = '';
  const n = 1 + Math.floor(r() * maxParts);
  for (let i = 0; i < n; i++) s += POOL[Math.floor(r() * POOL.length)];
  return s;
}
