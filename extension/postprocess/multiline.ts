// Cleaning what the model wrote before it is shown: single-line suggestions in the middle of a line,
// multi-line ones that stop where the block ends (a line indented less than the cursor's, a blank line),
// and never repeating text that already follows the cursor.

export interface CursorContext {
  /** The current line up to the cursor, and after it. */
  linePrefix: string;
  lineSuffix: string;
  /** The document after the cursor's line (for repeated-suffix detection). */
  nextLines: string[];
}

/** `frspec.multiline`: auto (one line in the middle of a line, a block at its end), always, never. */
export type MultilineMode = 'auto' | 'always' | 'never';
export interface LineLimits { multiline: MultilineMode; /** `frspec.maxLines` (0: no limit). */ maxLines: number }
const AUTO: LineLimits = { multiline: 'auto', maxLines: 0 };

/** The most lines a suggestion at this cursor may have (undefined: no limit). */
export function lineLimit(ctx: CursorContext, limits: LineLimits = AUTO): number | undefined {
  if (limits.multiline === 'never' || (limits.multiline === 'auto' && ctx.lineSuffix.trim() !== '')) return 1;
  return limits.maxLines > 0 ? limits.maxLines : undefined;
}

/** Stop rules for the sidecar: the line limit; a blank line ends a block. */
export function requestRules(ctx: CursorContext, limits: LineLimits = AUTO): { maxLines?: number; stopAtBlankLine: boolean } {
  const maxLines = lineLimit(ctx, limits);
  return maxLines ? { maxLines, stopAtBlankLine: true } : { stopAtBlankLine: true };
}

const indentOf = (line: string) => /^[ \t]*/.exec(line)![0].replace(/\t/g, '    ').length;

/** The suggestion to show, or '' for none. */
export function postprocess(text: string, ctx: CursorContext, limits: LineLimits = AUTO): string {
  let lines = text.split('\n');
  const limit = lineLimit(ctx, limits);
  if (limit) lines = lines.slice(0, limit);

  // Dedent: the block ends at the first line indented less than the cursor's line (or at the same level
  // when the cursor's line opens a block, e.g. ends with ':' or '{').
  const base = indentOf(ctx.linePrefix);
  const opensBlock = /[:{(\[]\s*$/.test(ctx.linePrefix);
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const ind = indentOf(lines[i]);
    if (ind < base || (opensBlock && ind <= base && !/^\s*[)\]}]/.test(lines[i]))) { lines = lines.slice(0, i); break; }
  }
  // A line that repeats the one before it (the cursor's line for the first) is the model looping: stop there.
  for (let i = 0; i < lines.length; i++) {
    const prev = i === 0 ? '' : i === 1 ? (lines[0].trim() ? ctx.linePrefix + lines[0] : ctx.linePrefix) : lines[i - 1];
    if (i > 0 && lines[i].trim() && lines[i].trim() === prev.trim()) { lines = lines.slice(0, i); break; }
  }
  // Blank line: a block ends there.
  for (let i = 1; i < lines.length; i++) if (!lines[i].trim() && lines.slice(0, i).some((l) => l.trim())) { lines = lines.slice(0, i); break; }
  // Text already after the cursor: a line equal to the next non-empty line of the document is a repeat.
  const nextLine = ctx.nextLines.find((l) => l.trim())?.trim();
  if (nextLine) {
    const at = lines.findIndex((l, i) => i > 0 && l.trim() === nextLine);
    if (at > 0) lines = lines.slice(0, at);
  }
  let out = lines.join('\n').replace(/[ \t]+$/gm, '');
  // ...and on the cursor's own line: drop the part the line already has after the cursor.
  const rest = ctx.lineSuffix.trim();
  if (rest && out.trimEnd().endsWith(rest)) out = out.trimEnd().slice(0, -rest.length);
  if (!out.trim()) return '';
  return out.replace(/\n+$/, '');
}
