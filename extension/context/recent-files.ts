// Context from other files: the documents the user edited or opened most recently (not the current one),
// each as one chunk around where the user last was. Pure bookkeeping; extension.ts feeds it editor events.
import type { ContextChunk } from '../prompt/templates';

interface Seen { path: string; text: string; offset: number; at: number }

export class RecentFiles {
  private readonly files = new Map<string, Seen>();
  constructor(private readonly capacity = 20) {}

  /** Records that `path` was opened or edited, with its text and the offset the user was at. */
  touch(path: string, text: string, offset: number, at = Date.now()): void {
    this.files.delete(path);
    this.files.set(path, { path, text, offset, at });
    while (this.files.size > this.capacity) this.files.delete(this.files.keys().next().value!);
  }

  forget(path: string): void {
    this.files.delete(path);
  }

  /**
   * Up to `count` chunks of at most `chunkChars` characters, excluding `current`. Oldest first, so the most
   * recent file sits nearest the cursor in the prompt and the order stays stable while the user types.
   */
  chunks(current: string, count: number, chunkChars: number): ContextChunk[] {
    const recent = [...this.files.values()].filter((f) => f.path !== current && f.text.trim()).slice(-count);
    return recent.map((f) => ({ path: f.path, text: chunkAround(f.text, f.offset, chunkChars) }));
  }
}

/** At most `maxChars` characters of whole lines around `offset` (more before it than after). */
export function chunkAround(text: string, offset: number, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let from = Math.max(0, Math.min(offset - Math.floor(maxChars * 0.6), text.length - maxChars));
  if (from > 0) { const nl = text.indexOf('\n', from); from = nl < 0 ? from : nl + 1; }
  let to = Math.min(text.length, from + maxChars);
  if (to < text.length) { const nl = text.lastIndexOf('\n', to); if (nl > from) to = nl + 1; }
  return text.slice(from, to);
}
