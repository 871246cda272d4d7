// The last few completions, as token ids for the speculative engine's context lookup (native/spec.ts
// `lookupHistory`). While typing, each keystroke's completion mostly repeats the previous one's (the same text,
// or the same text less what was just typed), but the new prompt never holds it: the engine rolled it back.
// Offered to the context lookup, it is drafted in long runs at no drafting cost, and verification keeps the
// output exact whatever it holds. Each completion is kept behind the last `PROMPT_TAIL` ids of its prompt, so
// the first step's n-gram (the prompt's end and the first token) finds it.
// Typing benchmark's requests (demo models, 300 requests of 12 tokens, lookup-only drafting simulated on their
// plain outputs): context alone 1.08 tokens per step after the first; with the previous completion 5.47; with
// the last 2 / 4, 6.00 / 6.16 (proposals of up to 12 tokens; of up to 8, 3.87).

/** Completions kept (the newest last). */
export const RECENT_COMPLETIONS = 4;
/** Prompt ids kept before each completion. */
export const PROMPT_TAIL = 8;

export class RecentCompletions {
  private pieces: Int32Array[] = [];

  constructor(private readonly keep = RECENT_COMPLETIONS) {}

  /** A finished (or cut short) request: its prompt and the tokens it produced. */
  add(prompt: Int32Array, tokens: Int32Array): void {
    if (tokens.length === 0) return;
    const tail = prompt.subarray(Math.max(0, prompt.length - PROMPT_TAIL));
    const piece = new Int32Array(tail.length + tokens.length);
    piece.set(tail);
    piece.set(tokens, tail.length);
    this.pieces.push(piece);
    if (this.pieces.length > this.keep) this.pieces.shift();
  }

  /** The pieces, oldest first, each behind a separator (-1: matches nothing); empty when none. */
  history(): Int32Array {
    const out = new Int32Array(this.pieces.reduce((n, p) => n + p.length + 1, 0));
    let at = 0;
    for (const p of this.pieces) {
      out[at++] = -1;
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
