// A fill-in-the-middle prompt (PSM: prefix, suffix, middle) puts the text after the cursor behind the text
// before it, so every keystroke — which changes the prefix's end — makes the engine evaluate the whole suffix
// again: 100-250 tokens per keystroke with the extension's 1000-character suffix window. With a prompt budget
// (`promptBudgetMs`) the suffix is cut, at a line end, to what this machine's measured prompt speed evaluates
// within the budget (bench/suffix-shrink.ts measures what that costs in first-line exact match).
import type { Tokenizer } from '../native/tokenizer';
import type { PromptPart } from './protocol';

/** Prompt tokens besides the suffix that a keystroke re-evaluates (the prefix's changed tail, specials). */
export const PROMPT_RESERVE_TOKENS = 16;
/** The suffix never shrinks below this (the line after the cursor matters most). */
export const MIN_SUFFIX_TOKENS = 32;

/** Prompt tokens per second measured on real requests (a running average; ~the last 8 count). */
export class PromptRate {
  tokensPerSecond?: number;

  record(evaluatedTokens: number, ms: number): void {
    if (evaluatedTokens < 16 || !(ms > 0)) return;  // a few tokens measure overheads, not speed
    const x = evaluatedTokens / (ms / 1000);
    this.tokensPerSecond = this.tokensPerSecond === undefined ? x : this.tokensPerSecond + (x - this.tokensPerSecond) / 8;
  }

  /** Suffix tokens a request may re-evaluate within `budgetMs`; undefined until the speed is measured. */
  suffixCap(budgetMs: number): number | undefined {
    if (this.tokensPerSecond === undefined || !(budgetMs > 0)) return undefined;
    return Math.max(MIN_SUFFIX_TOKENS, Math.floor(this.tokensPerSecond * budgetMs / 1000) - PROMPT_RESERVE_TOKENS);
  }
}

/**
 * `parts` with the text between `{special: fim_suffix}` and `{special: fim_middle}` cut to at most `maxTokens`
 * tokens, ending at the last line end within them (whole lines; a first line longer than that is cut inside).
 * Parts of any other shape come back unchanged (prompt.ts validates them).
 */
export function capSuffix(tok: Tokenizer, parts: PromptPart[], maxTokens: number): { parts: PromptPart[]; cutTokens: number } {
  const isSpecial = (p: PromptPart, name: string) => typeof p === 'object' && p !== null && (p as { special?: unknown }).special === name;
  const from = parts.findIndex((p) => isSpecial(p, 'fim_suffix'));
  const to = from < 0 ? -1 : parts.findIndex((p, i) => i > from && isSpecial(p, 'fim_middle'));
  if (to < 0 || parts.slice(from + 1, to).some((p) => typeof p !== 'string')) return { parts, cutTokens: 0 };
  const suffix = (parts.slice(from + 1, to) as string[]).join('');
  const ids = tok.encode(suffix);
  if (ids.length <= maxTokens) return { parts, cutTokens: 0 };
  const kept = tok.decode(ids.slice(0, maxTokens));
  const lineEnd = kept.lastIndexOf('\n');
  const text = lineEnd > 0 ? kept.slice(0, lineEnd + 1) : kept;
  return { parts: [...parts.slice(0, from + 1), ...(text ? [text] : []), ...parts.slice(to)], cutTokens: ids.length - tok.encode(text).length };
}
