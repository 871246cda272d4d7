// Context from the language server, as Tabby does: the definitions of the identifiers just before the cursor
// (a called function's signature and body start, a type's fields) as prompt chunks. Pure: which identifiers
// to ask about, which definitions to keep, and how they share the prompt's context budget with recent files.
// context/language-server.ts asks VS Code (vscode.executeDefinitionProvider) for the locations.
import type { ContextChunk } from '../prompt/templates';

export interface IdentifierAt { name: string; offset: number }

/** Words that name no definition worth a chunk (keywords and literals of the common languages). */
const KEYWORDS = new Set((
  'if else for while do switch case default break continue return function class interface type enum const let var ' +
  'new delete this self super true false null undefined None True False nil void int float double char bool boolean ' +
  'string number any unknown never public private protected static readonly async await yield import export from as ' +
  'def lambda pass raise try except finally with in is not and or elif global nonlocal assert del print ' +
  'struct union typedef sizeof unsigned signed long short auto extern register volatile inline namespace using ' +
  'template typename virtual override final fn impl pub mut match mod use crate where loop move ref trait dyn ' +
  'package func go chan select defer range map interface extends implements instanceof typeof of keyof declare ' +
  'throw throws catch echo end then begin module require include'
).split(' '));

/**
 * Identifiers before the cursor, nearest first: the current line up to the cursor (without the word being
 * typed: it changes every keystroke and has no definition yet) and `linesBefore` lines above. Each once, at
 * its last occurrence (the definition provider is asked at that offset). Keywords and 1-letter names skipped.
 */
export function identifiersBeforeCursor(text: string, offset: number, linesBefore = 3, max = 8): IdentifierAt[] {
  // Start of the line `linesBefore` lines above the cursor's.
  let from = offset;
  for (let n = 0; n <= linesBefore; n++) {
    const nl = from > 0 ? text.lastIndexOf('\n', from - 1) : -1;
    if (nl < 0) { from = -1; break; }
    from = nl;
  }
  from += 1;
  const window = text.slice(from, offset);
  // The word under construction at the cursor is not a finished identifier.
  const typing = /[\p{L}\p{N}_$]+$/u.exec(window);
  const end = typing ? window.length - typing[0].length : window.length;
  const re = /[\p{L}_$][\p{L}\p{N}_$]*/gu;
  const all: IdentifierAt[] = [];
  for (let m = re.exec(window); m && m.index < end; m = re.exec(window)) {
    if (m.index + m[0].length > end) break;
    all.push({ name: m[0], offset: from + m.index });
  }
  const found: IdentifierAt[] = [];
  const seen = new Set<string>();
  for (let i = all.length - 1; i >= 0 && found.length < max; i--) {
    const id = all[i];
    if (id.name.length < 2 || KEYWORDS.has(id.name) || seen.has(id.name)) continue;
    seen.add(id.name);
    found.push(id);
  }
  return found;
}

export interface DefinitionSnippet {
  /** The identifier it defines (nearest to the cursor first, as identifiersBeforeCursor orders them). */
  name: string;
  path: string;
  /** 0-based line where the definition starts. */
  line: number;
  /** The definition's text (its first lines). */
  text: string;
}

/** The lines of `text` from `startLine`, at most `maxLines` lines and `maxChars` characters (whole lines). */
export function definitionText(text: string, startLine: number, endLine: number, maxLines = 15, maxChars = 800): string {
  const lines = text.split('\n').slice(startLine, Math.min(endLine + 1, startLine + maxLines));
  let out = '';
  for (const l of lines) {
    if (out.length + l.length + 1 > maxChars) { if (!out) out = `${l.slice(0, maxChars - 1)}\n`; break; }
    out += `${l}\n`;
  }
  return out;
}

/**
 * The definitions to put in the prompt: not inside the part of the current file the prompt already shows
 * (`visible`: [first line, last line] of the prefix/suffix windows), each location once, whole snippets
 * until `budgetChars` is spent. Returned most relevant LAST (nearest the cursor in the prompt, like recent files).
 */
export function selectDefinitionChunks(defs: DefinitionSnippet[], currentPath: string, visible: [number, number], budgetChars: number): ContextChunk[] {
  const kept: ContextChunk[] = [];
  const seen = new Set<string>();
  let used = 0;
  for (const d of defs) {
    const key = `${d.path}:${d.line}`;
    if (seen.has(key) || !d.text.trim()) continue;
    seen.add(key);
    if (d.path === currentPath && d.line >= visible[0] && d.line <= visible[1]) continue;
    if (used + d.text.length > budgetChars) continue;  // a smaller one further down may still fit
    used += d.text.length;
    kept.push({ path: d.path, text: d.text });
  }
  return kept.reverse();
}

/**
 * One budget for all context: `files × chunkChars` characters, as before definitions existed. Definitions get
 * up to half of it (`definitionsShare`); recent files keep their count, and their chunks shrink to what is
 * left (never under 200 characters: below that a file is dropped instead).
 */
export function shareContextBudget(files: number, chunkChars: number, definitionChars: number): { recentFiles: number; recentChunkChars: number } {
  const total = files * chunkChars;
  const left = Math.max(0, total - definitionChars);
  let recentFiles = files;
  while (recentFiles > 0 && Math.floor(left / recentFiles) < Math.min(200, chunkChars)) recentFiles--;
  return { recentFiles, recentChunkChars: recentFiles ? Math.min(chunkChars, Math.floor(left / recentFiles)) : 0 };
}

export function definitionBudget(files: number, chunkChars: number): number {
  return Math.floor((files * chunkChars) / 2);
}
