// What the editor asks a remote engine for at the cursor: the same prefix/suffix windows and recent-file
// chunks the local prompt is built from, the same token limit and time budget, and the multi-line rules as
// stop strings a server understands (a blank line ends the block; one-line mode stops at the newline). The
// response still goes through postprocess(), so remote suggestions obey exactly the local rules.
import type { RemoteRequest } from './remote-engine';

export interface RemoteInput {
  prefix: string;
  suffix: string;
  chunks: { path: string; text: string }[];
}

export function remoteRequest(input: RemoteInput, rules: { maxLines?: number; stopAtBlankLine?: boolean }, maxTokens: number, timeBudgetMs: number, signal?: AbortSignal): RemoteRequest {
  const stop: string[] = [];
  if (rules.maxLines === 1) stop.push('\n');
  else if (rules.stopAtBlankLine) stop.push('\n\n');
  // The cursor's indentation: llama.cpp's n_indent stops at a line indented less (the block ended).
  const lastLine = input.prefix.slice(input.prefix.lastIndexOf('\n') + 1);
  const indent = /^[ \t]*$/.test(lastLine) ? lastLine.replace(/\t/g, '    ').length : 0;
  return {
    prefix: input.prefix, suffix: input.suffix, chunks: input.chunks, maxTokens, stop,
    ...(indent > 0 ? { nIndent: indent } : {}), ...(timeBudgetMs > 0 ? { timeBudgetMs } : {}), ...(signal ? { signal } : {}),
  };
}
