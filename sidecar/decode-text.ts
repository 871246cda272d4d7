// One completion as text: runs a decoder on prompt ids, turns tokens into text as they come, and ends
// decoding at the request's stop rules (lines, blank line, stop strings) or its time budget (counted from
// the first token). The editor's `complete` (server.ts) and `frspec demo` / `frspec generate` go through it,
// so the command line shows what the editor gets.
import type { Tokenizer } from '../native/tokenizer';
import type { DecodeRequest, DecodeResult } from './decoder';
import type { CompleteStop } from './protocol';
import { findStop, type StopHit, type StopRules } from './stop-rules';

export interface TextRequest extends StopRules {
  maxTokens: number;
  /** Stop decoding this many ms after the first token (0 or absent: no budget). */
  timeBudgetMs?: number;
}

export interface TextResult {
  text: string;
  stop: CompleteStop;
  result: DecodeResult;
  /** performance.now() when the first token came (undefined: none came). */
  firstTokenAt?: number;
}

/**
 * Decodes `prompt` with `decode` (a decoder's generate, plain or configured) under the request's rules.
 * `signal` cancels; the caller checks it afterwards (a cancelled run still returns what it had).
 * `onText` gets the whole text so far after each step that did not stop it.
 */
export async function decodeText(tok: Tokenizer, decode: (req: DecodeRequest) => Promise<DecodeResult>, prompt: Int32Array,
  p: TextRequest, signal: AbortSignal, onText?: (text: string) => void): Promise<TextResult> {
  // Our own stop rules and the time budget end generation through `inner`; `signal` is the caller's.
  const inner = new AbortController();
  const forward = () => inner.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const stream = tok.streamDecoder();
  let text = '';
  let hit: StopHit | undefined;
  let firstTokenAt: number | undefined;
  try {
    const result = await decode({
      prompt, maxTokens: p.maxTokens, stopTokens: tok.specials.eog, signal: inner.signal,
      onToken: (ids) => {
        if (firstTokenAt === undefined) {
          firstTokenAt = performance.now();
          if (p.timeBudgetMs) timer = setTimeout(() => { timedOut = true; inner.abort(); }, p.timeBudgetMs);
        }
        if (hit) return;
        for (const id of ids) text += stream.push(id);
        hit = findStop(text, p);
        if (hit) { text = text.slice(0, hit.length); inner.abort(); }
        else onText?.(text);
      },
    });
    if (!hit) text += stream.flush();
    const stop: CompleteStop = hit ? hit.reason : timedOut ? 'time_budget'
      : result.stop === 'stop_token' ? 'end_of_text' : result.stop === 'context_full' ? 'context_full' : 'max_tokens';
    return { text, stop, result, firstTokenAt };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', forward);
  }
}
