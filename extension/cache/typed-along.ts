// A small cache of the suggestions shown recently, so that typing along a suggestion (or coming back to
// the same spot) shows the rest of it without asking the engine again. Keyed by document and the text
// before the cursor (its length and its last `TAIL` characters, so entries stay small).
const TAIL = 2000;

interface Entry { doc: string; prefixLength: number; prefixTail: string; completion: string }

export class TypedAlongCache {
  private entries: Entry[] = [];
  hits = 0;
  constructor(private readonly capacity = 32) {}

  store(doc: string, prefix: string, completion: string): void {
    if (!completion) return;
    this.entries = this.entries.filter((e) => !(e.doc === doc && e.prefixLength === prefix.length));
    this.entries.push({ doc, prefixLength: prefix.length, prefixTail: prefix.slice(-TAIL), completion });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** The rest of a cached suggestion that `prefix` has typed into, or undefined. The newest entry wins. */
  lookup(doc: string, prefix: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.doc !== doc || prefix.length < e.prefixLength) continue;
      const typed = prefix.slice(e.prefixLength);
      if (typed.length >= e.completion.length || !e.completion.startsWith(typed)) continue;
      if (!prefix.slice(0, e.prefixLength).endsWith(e.prefixTail)) continue;
      this.hits++;
      return e.completion.slice(typed.length);
    }
    return undefined;
  }

  /** The document changed elsewhere (or closed): its entries no longer apply. */
  clear(doc?: string): void {
    this.entries = doc === undefined ? [] : this.entries.filter((e) => e.doc !== doc);
  }
}
