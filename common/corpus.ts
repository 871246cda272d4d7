// Reads a JSON-lines corpus, one source file per line as {lang, path, text}, plain or .xz-compressed
// (streamed through the `xz -dc` command, so an 80 MB corpus never sits in memory at once).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { openRegular } from './safe-fs';

export interface CorpusFile {
  path: string;
  text: string;
  /** '' when the line has none. */
  lang: string;
  /** 1-based line number in the corpus, for error messages. */
  line: number;
}

export function isJsonlCorpus(file: string): boolean {
  return /\.jsonl(\.xz)?$/i.test(file);
}

/**
 * Yields the files of a JSONL corpus in order. `onInput(read, total)` reports how many bytes of the
 * (compressed) file have been consumed, for progress. Stops (and kills xz) when the consumer stops early.
 */
export async function* readJsonlCorpus(file: string, onInput?: (read: number, total: number) => void): AsyncGenerator<CorpusFile> {
  // Opened non-blocking and checked to be a regular file: a FIFO given as corpus is refused, not waited on.
  const { fd, size: total } = openRegular(file, 'corpus (.jsonl or .jsonl.xz)');
  const input = fs.createReadStream('', { fd });
  let read = 0;
  input.on('data', (chunk) => { read += chunk.length; onInput?.(read, total); });
  const xz = file.toLowerCase().endsWith('.xz')
    ? spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : undefined;
  let xzError = '';
  const xzDone = xz && new Promise<void>((resolve) => {
    xz.stderr!.on('data', (d) => { xzError += d; });
    xz.on('error', (e) => { xzError ||= `cannot run xz (${e.message}); install xz-utils`; resolve(); });
    xz.on('close', (code) => { if (code && !xzError) xzError = `xz exited with code ${code}`; resolve(); });
  });
  if (xz) {
    xz.stdin!.on('error', () => { /* xz died; its own exit status explains why */ });
    input.pipe(xz.stdin!);
  }
  const lines = readline.createInterface({ input: xz ? xz.stdout! : input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      if (!raw.trim()) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch (e) {
        throw new Error(`${file}: line ${lineNo}: not valid JSON (${(e as Error).message})`);
      }
      const o = obj as Partial<CorpusFile> | null;
      if (typeof o !== 'object' || o === null || typeof o.text !== 'string' || typeof o.path !== 'string') {
        throw new Error(`${file}: line ${lineNo}: expected an object {lang, path, text} with string path and text`);
      }
      yield { path: o.path, text: o.text, lang: typeof o.lang === 'string' ? o.lang : '', line: lineNo };
    }
    if (xzDone) {
      await xzDone;
      if (xzError) throw new Error(`${file}: cannot decompress: ${xzError.trim().split('\n')[0]}`);
    }
  } finally {
    lines.close();
    input.destroy();
    xz?.kill();
  }
}
