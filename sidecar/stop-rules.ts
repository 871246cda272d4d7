// Text-level stop rules checked after every decoded token, so generation ends as soon as the text the
// editor will show is complete (saves the decoding time of lines nobody sees).
import type { CompleteStop } from './protocol';

export interface StopRules {
  stopSequences?: readonly string[];
  maxLines?: number;
  stopAtBlankLine?: boolean;
}

export interface StopHit { length: number; reason: CompleteStop }

/** Where the text must end under the rules (the cut length and why), or undefined to go on. */
export function findStop(text: string, rules: StopRules): StopHit | undefined {
  let best: StopHit | undefined;
  const consider = (length: number, reason: CompleteStop) => { if (!best || length < best.length) best = { length, reason }; };
  for (const s of rules.stopSequences ?? []) {
    if (!s) continue;
    const at = text.indexOf(s);
    if (at >= 0) consider(at, 'stop_sequence');
  }
  if (rules.maxLines !== undefined && rules.maxLines > 0) {
    let at = -1;
    for (let i = 0; i < rules.maxLines; i++) { at = text.indexOf('\n', at + 1); if (at < 0) break; }
    if (at >= 0) consider(at, 'max_lines');
  }
  if (rules.stopAtBlankLine) {
    // An empty (or whitespace-only) line after some text ends the block: cut before that line's newline.
    const m = /\S[^\n]*\n([ \t]*)\n/.exec(text);
    if (m) consider(m.index + m[0].length - m[1].length - 2, 'blank_line');
  }
  return best;
}
