// The prefix and suffix windows around the cursor. Cut at line boundaries so that, while the user types on
// one line, the window's start stays put and the sidecar reuses the KV cache of everything before the cursor.

/**
 * The last at most `maxChars` characters of `before`, starting at a line start when the text is longer.
 * The window's start moves in steps of a quarter window, counted from the start of the document: every
 * move changes the prompt's first tokens and so re-evaluates the whole prompt (hundreds of tokens), so it
 * should happen once per `step` characters typed, not at every line the window slides past (the typing
 * benchmark showed those re-evaluations as its p95). The window holds between `maxChars - step` and
 * `maxChars` characters (less when the cut falls inside a long line).
 */
export function prefixWindow(before: string, maxChars: number): string {
  if (before.length <= maxChars) return before;
  const step = Math.max(1, Math.floor(maxChars / 4));
  const from = Math.ceil((before.length - maxChars) / step) * step;
  const lineStart = before.indexOf('\n', from);
  // A single line longer than the window: cut inside it rather than sending nothing.
  return lineStart < 0 || lineStart + 1 >= before.length ? before.slice(from) : before.slice(lineStart + 1);
}

/** The first at most `maxChars` characters of `after`, ending at a line end when the text is longer. */
export function suffixWindow(after: string, maxChars: number): string {
  if (after.length <= maxChars) return after;
  const lineEnd = after.lastIndexOf('\n', maxChars);
  return lineEnd <= 0 ? after.slice(0, maxChars) : after.slice(0, lineEnd + 1);
}
