// One completion for the HTTP server: the loaded session's decoder (plain or FR-Spec speculative, the same
// one the editor's sidecar uses), the sidecar's text stop rules, and the two llama.cpp server rules its
// editor clients rely on: `n_indent` (stop at a line indented less than the cursor) and `t_max_predict_ms`
// (once a line is complete, stop when the decode time is spent). Streams text as it becomes final: text that
// could still turn into a stop string is held back until it cannot.
import type { Session } from '../session';
import { findStop } from '../stop-rules';
import type { CompletionStats } from '../protocol';
import { completionStats } from '../stats';

export type StopType = 'eos' | 'limit' | 'word' | 'none';

export interface CompletionRequest {
  prompt: Int32Array;
  /** 0: only evaluate the prompt into the KV cache (llama.vscode's ring-buffer warm-up). */
  maxTokens: number;
  stop: string[];
  nIndent: number;
  tMaxPredictMs: number;
  /** Newly final text, for streaming. */
  onText?: (delta: string) => void;
}

export interface CompletionOutput {
  text: string;
  stopType: StopType;
  stoppingWord: string;
  /** Why decoding ended, in the sidecar protocol's words (for logs and metrics). */
  reason: 'end_of_text' | 'max_tokens' | 'stop_sequence' | 'indent' | 'time' | 'context_full';
  stats: CompletionStats;
  /** Token ids whose KV cache the engine keeps for the next request (prompt + generated). */
  tokensCached: number;
}

/** Where a line (after the first) is indented less than `nIndent` and has text: cut there (llama.cpp's rule). */
export function indentCut(text: string, nIndent: number): number | undefined {
  if (nIndent <= 0) return undefined;
  let nl = text.indexOf('\n');
  while (nl >= 0) {
    let pos = nl + 1, indent = 0;
    while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t')) { pos++; indent++; }
    if (pos < text.length && text[pos] !== '\n' && indent < nIndent) return pos;
    nl = text.indexOf('\n', nl + 1);
  }
  return undefined;
}

/** Length of the longest end of `text` that begins one of `stops` (it may still become a stop string). */
export function heldBack(text: string, stops: readonly string[]): number {
  let held = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > held; k--) {
      if (text.endsWith(s.slice(0, k))) { held = k; break; }
    }
  }
  return held;
}

export async function runCompletion(s: Session, req: CompletionRequest, signal: AbortSignal, receivedAt: number): Promise<CompletionOutput> {
  const started = performance.now();
  const inner = new AbortController();  // our own stop rules end generation through this
  const forward = () => inner.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  const stream = s.tok.streamDecoder();
  let text = '';
  let sent = 0;
  let cut: { length: number; reason: CompletionOutput['reason']; word?: string } | undefined;
  let firstTokenAt: number | undefined;
  const rules = { stopSequences: req.stop };
  try {
    const r = await s.decoder.generate({
      prompt: req.prompt, maxTokens: req.maxTokens, stopTokens: s.tok.specials.eog, signal: inner.signal,
      onToken: (ids) => {
        firstTokenAt ??= performance.now();
        if (cut) return;
        for (const id of ids) text += stream.push(id);
        const hit = findStop(text, rules);
        const indent = indentCut(text, req.nIndent);
        if (hit && (indent === undefined || hit.length <= indent)) {
          cut = { length: hit.length, reason: 'stop_sequence', word: req.stop.find((w) => w && text.startsWith(w, hit.length)) };
        } else if (indent !== undefined) cut = { length: indent, reason: 'indent' };
        else if (req.tMaxPredictMs > 0 && text.includes('\n') && performance.now() - firstTokenAt > req.tMaxPredictMs) {
          cut = { length: text.length, reason: 'time' };
        }
        if (cut) { text = text.slice(0, cut.length); inner.abort(); }
        const final = cut ? text.length : text.length - heldBack(text, req.stop);
        if (final > sent && req.onText) req.onText(text.slice(sent, final));
        sent = Math.max(sent, final);
      },
    });
    if (signal.aborted) throw signal.reason;
    if (!cut) {
      text += stream.flush();
      if (req.onText && text.length > sent) req.onText(text.slice(sent));
    }
    const reason: CompletionOutput['reason'] = cut ? cut.reason
      : r.stop === 'stop_token' ? 'end_of_text' : r.stop === 'context_full' ? 'context_full' : 'max_tokens';
    const stopType: StopType = reason === 'end_of_text' ? 'eos' : reason === 'stop_sequence' ? 'word' : 'limit';
    const done = performance.now();
    const stats = completionStats(r, { received: receivedAt, started, firstTokenAt, done });
    return { text, stopType, stoppingWord: cut?.word ?? '', reason, stats, tokensCached: r.nPrompt + r.tokens.length };
  } finally {
    signal.removeEventListener('abort', forward);
  }
}
