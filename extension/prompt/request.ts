// The editor's completion request for a cursor in a text, without VS Code: the prefix/suffix windows, the
// FIM prompt of the model's family, the cursor's line for the stop rules and the postprocessing. The inline
// completion provider builds its prompt with `promptParts`; `frspec demo` and `frspec generate` build the
// whole request with `editorRequest`, so the command line sends what the editor sends. No `vscode` import.
import type { CompleteParams, PromptPart, SpecialName } from '../../sidecar/protocol';
import { prefixWindow, suffixWindow } from '../context/windows';
import { type CursorContext, type LineLimits, requestRules } from '../postprocess/multiline';
import { buildFimPrompt, buildPlainPrompt, type ContextChunk, fimCapabilities, type FimInput, lineCommentFor } from './templates';

/** The prompt for a model whose special tokens are spelt `specials`: its FIM layout, or plain text without FIM tokens. */
export function promptParts(specials: Partial<Record<SpecialName, string>>, input: FimInput): PromptPart[] {
  const caps = fimCapabilities(specials);
  return caps ? buildFimPrompt(caps, input) : buildPlainPrompt(input);
}

/** The cursor's line and the 3 lines after it (before the last line), as the provider reads them from the document. */
export function cursorAt(text: string, offset: number): CursorContext {
  const lines = text.split('\n');
  const line = text.slice(0, offset).split('\n').length - 1;
  const column = offset - (text.lastIndexOf('\n', offset - 1) + 1);
  const end = Math.min(lines.length - 1, line + 4);
  return {
    linePrefix: lines[line].slice(0, column), lineSuffix: lines[line].slice(column),
    nextLines: line + 1 < lines.length ? [...lines.slice(line + 1, end), ''] : [],
  };
}

/** The settings a request depends on (package.json's defaults: EDITOR_DEFAULTS). */
export interface RequestSettings extends LineLimits {
  prefixChars: number;
  suffixChars: number;
  maxTokens: number;
  /** 0: none. */
  timeBudgetMs: number;
  promptBudgetMs: number;
}

/** The extension's defaults (package.json `contributes.configuration`; a unit test keeps them equal). */
export const EDITOR_DEFAULTS: RequestSettings = {
  prefixChars: 4000, suffixChars: 1000, maxTokens: 48, timeBudgetMs: 150, promptBudgetMs: 50, multiline: 'auto', maxLines: 10,
};

export interface EditorFile {
  /** Path relative to the workspace (it goes into repository-level prompts). */
  path: string;
  repoName: string;
  /** VS Code language id (for the line comment of context chunks). */
  languageId: string;
  /** Context from other files, most relevant last. */
  chunks?: ContextChunk[];
}

/** The `complete` request the editor sends for a cursor at `offset` in `text`, and its cursor context. */
export function editorRequest(text: string, offset: number, file: EditorFile, specials: Partial<Record<SpecialName, string>>,
  s: RequestSettings = EDITOR_DEFAULTS): { params: CompleteParams; cursor: CursorContext } {
  const cursor = cursorAt(text, offset);
  const input: FimInput = {
    prefix: prefixWindow(text.slice(0, offset), s.prefixChars), suffix: suffixWindow(text.slice(offset), s.suffixChars),
    path: file.path, repoName: file.repoName, lineComment: lineCommentFor(file.languageId), chunks: file.chunks ?? [],
  };
  const params: CompleteParams = {
    parts: promptParts(specials, input), maxTokens: s.maxTokens,
    ...(s.timeBudgetMs > 0 ? { timeBudgetMs: s.timeBudgetMs } : {}), ...(s.promptBudgetMs > 0 ? { promptBudgetMs: s.promptBudgetMs } : {}),
    ...requestRules(cursor, s),
  };
  return { params, cursor };
}

/** VS Code's language id for a file name (the few the examples and corpora use; others: the extension). */
export function languageIdOf(file: string): string {
  const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
  const ids: Record<string, string> = {
    py: 'python', ts: 'typescript', tsx: 'typescriptreact', js: 'javascript', jsx: 'javascriptreact', go: 'go', rs: 'rust',
    c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', hpp: 'cpp', java: 'java', rb: 'ruby', sh: 'shellscript', lua: 'lua', sql: 'sql',
  };
  return ids[ext] ?? 'plaintext';
}
