// Fill-in-the-middle prompts by model family, chosen from the model's OWN special tokens (the sidecar reports
// how each is spelt). The result is a list of parts: text (always tokenized as text, so code that spells a
// special token stays code) and named specials, which the sidecar maps to the model's ids.
import type { PromptPart, SpecialName } from '../../sidecar/protocol';

export type FimFamily = 'qwen' | 'starcoder' | 'deepseek' | 'codellama' | 'generic';

export interface FimCapabilities {
  family: FimFamily;
  /** Whether the model has <|repo_name|>/<|file_sep|> (repository-level layout). */
  repoLevel: boolean;
}

export interface ContextChunk { path: string; text: string }

export interface FimInput {
  prefix: string;
  suffix: string;
  /** Path of the current file relative to the workspace. */
  path: string;
  repoName: string;
  /** Extra context from other files, most relevant last (nearest to the cursor). */
  chunks: ContextChunk[];
  /** Line comment marker of the current language, for models without repository tokens. */
  lineComment?: string;
}

/** Which FIM layout a model takes, from the spellings of its special tokens; undefined: no FIM tokens. */
export function fimCapabilities(specials: Partial<Record<SpecialName, string>>): FimCapabilities | undefined {
  const pre = specials.fim_prefix, suf = specials.fim_suffix, mid = specials.fim_middle;
  if (!pre || !suf || !mid) return undefined;
  const family: FimFamily = pre === '<|fim_prefix|>' ? 'qwen'
    : pre === '<fim_prefix>' || pre === '<fim-prefix>' ? 'starcoder'
    : pre.includes('fim▁begin') || pre.includes('fim_begin') ? 'deepseek'
    : /^▁?<PRE>$/.test(pre) ? 'codellama'
    : 'generic';
  return { family, repoLevel: !!specials.repo_name && !!specials.file_sep };
}

const S = (special: SpecialName): PromptPart => ({ special });

/**
 * The prompt for a completion at the cursor. Layout (PSM, as the families were trained):
 *   qwen, repo-level:      <|repo_name|>R\n <|file_sep|>p1\nC1\n ... <|file_sep|>path\n <|fim_prefix|>P <|fim_suffix|>S <|fim_middle|>
 *   starcoder, repo-level: <reponame>R <file_sep>p1\nC1 ... <file_sep>path\n <fim_prefix>P <fim_suffix>S <fim_middle>
 *   deepseek / generic:    <begin>  [chunks as line comments] P <hole>S <end>
 *   codellama:             <PRE> ␠P <SUF>␠S <MID>
 * The chunks come first so their KV cache is reused while the user types in the current file.
 */
export function buildFimPrompt(caps: FimCapabilities, input: FimInput): PromptPart[] {
  const parts: PromptPart[] = [];
  let prefix = input.prefix;
  if (caps.repoLevel) {
    const nl = caps.family === 'starcoder' ? '' : '\n';
    parts.push(S('repo_name'), `${input.repoName}${nl}`);
    for (const c of input.chunks) parts.push(S('file_sep'), `${c.path}\n${c.text}${c.text.endsWith('\n') ? '' : '\n'}`);
    parts.push(S('file_sep'), `${input.path}\n`);
  } else if (input.chunks.length > 0 && input.lineComment) {
    // No repository tokens: other files go in as comments above the prefix (what these models saw in training).
    const m = input.lineComment;
    const commented = input.chunks.map((c) => `${m} ${c.path}\n${c.text.split('\n').map((l) => `${m} ${l}`).join('\n')}\n`).join('');
    prefix = `${commented}\n${prefix}`;
  }
  const pad = caps.family === 'codellama' ? ' ' : '';
  parts.push(S('fim_prefix'), pad + prefix, S('fim_suffix'), pad + input.suffix, S('fim_middle'));
  return parts.filter((p) => p !== '');
}

/** A plain continuation prompt for models without FIM tokens (the suffix is lost). */
export function buildPlainPrompt(input: FimInput): PromptPart[] {
  return [input.prefix];
}

const LINE_COMMENT: Record<string, string> = {
  python: '#', shellscript: '#', ruby: '#', perl: '#', r: '#', yaml: '#', toml: '#', makefile: '#', dockerfile: '#', powershell: '#',
  lua: '--', sql: '--', haskell: '--',
};

/** The line comment marker of a VS Code language id ('//' for the C family and most others). */
export function lineCommentFor(languageId: string): string {
  return LINE_COMMENT[languageId] ?? '//';
}
