// Fill-in-the-middle prompts from a corpus of {lang, path, text} files, the same way for the speculative
// decoding tests and benchmark: the cursor at the start of the middle line of the file, the next `gap`
// lines removed (what the model should write), up to `prefixChars` before and `suffixChars` after, laid
// out as the editor lays them out for the model (extension/prompt/request.ts: Qwen2.5-Coder's repository-level
// PSM with the file's path, <|repo_name|>workspace <|file_sep|>path <|fim_prefix|> prefix <|fim_suffix|>
// suffix <|fim_middle|>) and encoded as the sidecar encodes it: `<|fim_prefix|>` written in a file stays text.
import type { CorpusFile } from '../common/corpus';
import type { Tokenizer } from '../native/tokenizer';
import { promptParts } from '../extension/prompt/request';
import { encodePrompt, specialTexts } from '../sidecar/prompt';

const NO_LIMITS = { maxPromptTokens: Number.MAX_SAFE_INTEGER, maxPromptChars: Number.MAX_SAFE_INTEGER, maxTokens: Number.MAX_SAFE_INTEGER };

export interface FimPrompt { path: string; lang?: string; tokens: number[] }

export interface FimOptions { prefixChars?: number; suffixChars?: number; gap?: number; minLines?: number }

export function fimPrompt(file: Pick<CorpusFile, 'path' | 'text' | 'lang'>, tok: Tokenizer, o: FimOptions = {}): FimPrompt | undefined {
  const { prefixChars = 1200, suffixChars = 400, gap = 2, minLines = 12 } = o;
  const lines = file.text.split('\n');
  if (lines.length < minLines) return undefined;
  const cut = Math.floor(lines.length / 2);
  let prefix = lines.slice(0, cut).join('\n') + '\n';
  let suffix = lines.slice(cut + gap).join('\n');
  if (prefix.length > prefixChars) prefix = prefix.slice(prefix.indexOf('\n', prefix.length - prefixChars) + 1);
  if (suffix.length > suffixChars) suffix = suffix.slice(0, suffix.lastIndexOf('\n', suffixChars) + 1);
  const parts = promptParts(specialTexts(tok), { prefix, suffix, path: file.path, repoName: 'workspace', chunks: [] });
  const tokens = [...encodePrompt(tok, parts, NO_LIMITS)];
  return { path: file.path, lang: file.lang, tokens };
}

/** The first n usable FIM prompts of a corpus. */
export async function fimPrompts(corpus: AsyncIterable<Pick<CorpusFile, 'path' | 'text' | 'lang'>>, tok: Tokenizer, n: number, o: FimOptions = {}): Promise<FimPrompt[]> {
  const out: FimPrompt[] = [];
  for await (const f of corpus) {
    const p = fimPrompt(f, tok, o);
    if (p) out.push(p);
    if (out.length >= n) break;
  }
  return out;
}
