// Turns a protocol prompt (text parts and named special tokens) into token ids. Text is always encoded as
// plain text, so `<|fim_prefix|>` typed in the editor stays data; specials come only from `{special}` parts
// and map to the model's own ids. Oversized prompts are refused before and after tokenizing.
import type { SpecialTokens, Tokenizer } from '../native/tokenizer';
import { ErrorCode, type Limits, type PromptPart, type SpecialName } from './protocol';
import { SidecarError } from './errors';
import { invalid } from './validate';

/** Parts in one prompt: the extension sends a dozen; millions of empty strings would only cost memory. */
export const MAX_PROMPT_PARTS = 4096;

const SPECIAL_ID: Record<SpecialName, (s: SpecialTokens) => number> = {
  bos: (s) => s.bos,
  eos: (s) => s.eos,
  fim_prefix: (s) => s.fimPre,
  fim_suffix: (s) => s.fimSuf,
  fim_middle: (s) => s.fimMid,
  fim_pad: (s) => s.fimPad,
  repo_name: (s) => s.fimRep,
  file_sep: (s) => s.fimSep,
};

/** The text of each special the model has, for the client's templates. */
export function specialTexts(tok: Tokenizer): Partial<Record<SpecialName, string>> {
  const out: Partial<Record<SpecialName, string>> = {};
  for (const [name, id] of Object.entries(SPECIAL_ID) as [SpecialName, (s: SpecialTokens) => number][]) {
    const v = id(tok.specials);
    if (v >= 0) out[name] = tok.tokenText(v);
  }
  return out;
}

/** Validates the shape of `parts` (it comes from the wire) and returns the token ids. */
export function encodePrompt(tok: Tokenizer, parts: unknown, limits: Limits): Int32Array {
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_PROMPT_PARTS) {
    throw invalid('complete', 'parts', `a non-empty array of at most ${MAX_PROMPT_PARTS} strings and {special} objects`, parts);
  }
  let chars = 0;
  parts.forEach((p, i) => {
    if (typeof p === 'string') chars += p.length;
    // Own properties only: {special: "toString"} or "__proto__" name no special token.
    else if (!p || typeof p !== 'object' || Array.isArray(p) || typeof p.special !== 'string' || !Object.prototype.hasOwnProperty.call(SPECIAL_ID, p.special)) {
      throw invalid('complete', `parts[${i}]`, `a string or {special: ${Object.keys(SPECIAL_ID).join('|')}}`, p && typeof p === 'object' && !Array.isArray(p) ? p.special : p);
    }
  });
  if (chars > limits.maxPromptChars) {
    throw new SidecarError(ErrorCode.PromptTooLong, `prompt of ${chars} characters is over the limit of ${limits.maxPromptChars}; send a shorter window`);
  }
  const pieces: ArrayLike<number>[] = [];
  let n = 0;
  (parts as PromptPart[]).forEach((p, i) => {
    if (typeof p === 'string') {
      const ids = tok.encode(p);
      pieces.push(ids);
      n += ids.length;
    } else {
      const id = SPECIAL_ID[p.special](tok.specials);
      if (id < 0) throw new SidecarError(ErrorCode.InvalidParams, `parts[${i}]: this model has no ${p.special} token`);
      pieces.push([id]);
      n += 1;
    }
  });
  if (n > limits.maxPromptTokens) {
    throw new SidecarError(ErrorCode.PromptTooLong, `prompt of ${n} tokens is over the limit of ${limits.maxPromptTokens} (context size minus the completion); send a shorter window`);
  }
  const out = new Int32Array(n);
  let at = 0;
  for (const p of pieces) { out.set(p, at); at += p.length; }
  return out;
}
