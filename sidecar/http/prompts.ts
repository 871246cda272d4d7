// Prompts of the HTTP APIs, as token ids.
// - /infill (llama.cpp): input_prefix, input_suffix, input_extra and prompt are TEXT (code from the editor is
//   data: a `<|fim_prefix|>` typed in a file stays text). The layout is llama.cpp server's format_infill, so the
//   same model sees the same tokens behind either server: [<repo_name>myproject\n (<file_sep>NAME\nTEXT)*
//   <file_sep>filename\n] [BOS] <fim_prefix>PREFIX PROMPT <fim_suffix>SUFFIX <fim_middle>, trimmed to fit
//   (prefix from the left, suffix from the right, the oldest extra chunks first).
// - /completion and /v1/completions without a suffix: the prompt is a template the CLIENT wrote (Continue
//   renders `<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>` itself), so, as in llama.cpp and vLLM,
//   the model's special-token spellings in it are those tokens. Token-id arrays are accepted too.
import type { Tokenizer } from '../../native/tokenizer';
import { encodePrompt, specialTexts } from '../prompt';
import type { Limits, PromptPart, SpecialName } from '../protocol';
import { HttpError } from './errors';

export interface ExtraChunk { filename: string; text: string }

export interface InfillInput {
  prefix: string;
  suffix: string;
  extra: ExtraChunk[];
  /** Text after the prefix (llama.vscode sends the current line up to the cursor). */
  prompt: string;
}

// llama.cpp separates extra chunks this way for models without <file_sep>.
const CHUNK_SEPARATOR = '\n\n--- snippet ---\n\n';

export function hasFim(tok: Tokenizer): boolean {
  const s = tok.specials;
  return s.fimPre >= 0 && s.fimSuf >= 0 && s.fimMid >= 0;
}

/** llama.cpp's infill layout within `limits.maxPromptTokens`; `truncated` when some input did not fit. */
export function infillTokens(tok: Tokenizer, input: InfillInput, limits: Limits, repoHeader = true): { ids: Int32Array; truncated: boolean } {
  const sp = tok.specials;
  if (!hasFim(tok)) throw new HttpError(400, 'this model has no fill-in-the-middle tokens; use /completion with a plain prompt');
  const budget = limits.maxPromptTokens;
  // Characters first, so a huge field is never tokenized whole (a token is at least one character).
  const prefix = tok.encode(input.prefix.slice(-limits.maxPromptChars));
  const suffix = tok.encode(input.suffix.slice(0, limits.maxPromptChars));
  const prompt = tok.encode(input.prompt.slice(0, limits.maxPromptChars));
  const extra: number[] = [];
  if (repoHeader && sp.fimRep >= 0) extra.push(sp.fimRep, ...tok.encode('myproject\n'));
  let extraChars = 0;
  // The newest chunks are last and matter most: past the character limit, older ones are dropped.
  const chunks = input.extra.slice();
  for (let i = chunks.length - 1; i >= 0; i--) {
    extraChars += chunks[i].text.length + chunks[i].filename.length;
    if (extraChars > limits.maxPromptChars) { chunks.splice(0, i + 1); break; }
  }
  for (const c of chunks) {
    if (sp.fimSep >= 0) extra.push(sp.fimSep, ...tok.encode(`${c.filename}\n`));
    else extra.push(...tok.encode(CHUNK_SEPARATOR));
    extra.push(...tok.encode(c.text));
  }
  if (repoHeader && sp.fimSep >= 0) extra.push(sp.fimSep, ...tok.encode('filename\n'));
  const fixed = 3 + (sp.addBos ? 1 : 0) + prompt.length;
  if (fixed > budget) throw new HttpError(400, `prompt of ${prompt.length} tokens leaves no room in the context (${budget} prompt tokens)`);
  // As llama.cpp with a batch of B = min(2048, budget): prefix up to 3B/4, suffix up to B/4, extra fills the rest.
  const batch = Math.min(2048, budget);
  const prefixTake = Math.min(prefix.length, Math.floor(3 * batch / 4), budget - fixed);
  const suffixTake = Math.min(suffix.length, Math.max(0, Math.floor(batch / 4) - (2 + prompt.length)), budget - fixed - prefixTake);
  const extraTake = Math.min(extra.length, Math.max(0, budget - fixed - prefixTake - suffixTake));
  const out: number[] = [];
  out.push(...extra.slice(extra.length - extraTake));
  if (sp.addBos) out.push(sp.bos);
  out.push(sp.fimPre, ...prefix.subarray(prefix.length - prefixTake), ...prompt);
  out.push(sp.fimSuf, ...suffix.subarray(0, suffixTake), sp.fimMid);
  const truncated = prefixTake < prefix.length || suffixTake < suffix.length || extraTake < extra.length || chunks.length < input.extra.length
    || input.prefix.length > limits.maxPromptChars || input.suffix.length > limits.maxPromptChars;
  return { ids: Int32Array.from(out), truncated };
}

/** A client-written template: the model's special spellings become its special tokens, the rest is text. */
export function templateParts(text: string, tok: Tokenizer): PromptPart[] {
  const spellings = Object.entries(specialTexts(tok)) as [SpecialName, string][];
  // bos and eos may share a spelling (<|endoftext|>): the first name wins, both map to a real id.
  const byText = new Map<string, SpecialName>();
  for (const [name, t] of spellings) if (t && !byText.has(t)) byText.set(t, name);
  if (byText.size === 0) return [text];
  const pattern = new RegExp([...byText.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
  const parts: PromptPart[] = [];
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index! > at) parts.push(text.slice(at, m.index));
    parts.push({ special: byText.get(m[0])! });
    at = m.index! + m[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

/**
 * The prompt of /completion or /v1/completions: a string (a template, see above), an array of token ids, or
 * an array mixing both (llama.cpp's forms). One prompt per request.
 */
export function completionTokens(tok: Tokenizer, prompt: unknown, limits: Limits, field = 'prompt'): Int32Array {
  let pieces: Array<string | number>;
  if (typeof prompt === 'string') pieces = [prompt];
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'string' || typeof p === 'number')) {
    if (prompt.filter((p) => typeof p === 'string').length > 1 && prompt.every((p) => typeof p === 'string')) {
      throw new HttpError(400, `\`${field}\`: one prompt per request (got ${prompt.length} strings)`);
    }
    pieces = prompt as Array<string | number>;
  } else throw new HttpError(400, `\`${field}\` must be a string, an array of token ids, or an array of strings and token ids`);
  const out: number[] = [];
  let chars = 0;
  for (const p of pieces) {
    if (typeof p === 'number') {
      if (!Number.isInteger(p) || p < 0 || p >= tok.vocabSize) throw new HttpError(400, `\`${field}\`: token id ${p} is not in the model's vocabulary (0..${tok.vocabSize - 1})`);
      out.push(p);
    } else {
      chars += p.length;
      if (chars > limits.maxPromptChars) throw new HttpError(400, `\`${field}\` of ${chars}+ characters is over the limit of ${limits.maxPromptChars}`);
      const parts = templateParts(p, tok);
      if (parts.length > 0) out.push(...encodePrompt(tok, parts, { ...limits, maxPromptTokens: Number.MAX_SAFE_INTEGER }));
    }
  }
  if (out.length === 0) throw new HttpError(400, `\`${field}\` is empty`);
  if (tok.specials.addBos && out[0] !== tok.specials.bos) out.unshift(tok.specials.bos);
  if (out.length > limits.maxPromptTokens) {
    throw new HttpError(400, `\`${field}\` of ${out.length} tokens is over the limit of ${limits.maxPromptTokens} (context size minus the completion)`);
  }
  return Int32Array.from(out);
}

/** A FIM prompt from a prefix and a suffix (OpenAI's `suffix`), both text, without llama.cpp's repository header. */
export function fimTokens(tok: Tokenizer, prefix: string, suffix: string, limits: Limits): Int32Array {
  return infillTokens(tok, { prefix, suffix, extra: [], prompt: '' }, limits, false).ids;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
