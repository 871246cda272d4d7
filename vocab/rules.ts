// Which files are worth counting: the rules that keep binaries, minified or generated code, lockfiles and
// huge files out of a vocabulary. The walker applies the name and size rules before reading a file; the
// content rules run on the bytes (folders) or text (JSONL corpora) of every file that passes.
import * as path from 'node:path';

export interface FileRules {
  /** Files larger than this are skipped unread (default 1 MiB). */
  maxFileBytes: number;
  /** A line longer than this many characters is "long" (default 1000). */
  longLineChars: number;
  /** A file with more than this share of its characters in long lines is minified (default 0.5). */
  maxLongLineShare: number;
}

export const defaultRules: FileRules = { maxFileBytes: 1 << 20, longLineChars: 1000, maxLongLineShare: 0.5 };

/** Why a file was left out; the values also appear in stats and in the count cache (stable strings). */
export type SkipReason = 'too-large' | 'binary' | 'not-utf8' | 'minified' | 'generated' | 'lockfile' | 'unreadable';

// Bump when a content rule changes meaning, so cached skip decisions are not reused.
export const RULES_VERSION = 1;

const LOCKFILES = new Set([
  'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'Cargo.lock', 'poetry.lock',
  'Pipfile.lock', 'Gemfile.lock', 'composer.lock', 'go.sum', 'flake.lock', 'uv.lock', 'pdm.lock', 'packages.lock.json',
]);
const MINIFIED_NAME = /\.min\.(js|mjs|cjs|css)$|\.(js|css)\.map$/i;
// Markers that tools write into the first lines of the files they generate.
const GENERATED_MARKER = /@generated\b|\bDO NOT EDIT\b|\bauto-?generated\b|\bgenerated (?:by|from)\b/i;
const HEAD_LINES = 5;

/** The rule a file name alone breaks, if any (applied before reading). */
export function skipByName(fileName: string): SkipReason | undefined {
  const base = path.basename(fileName);
  if (LOCKFILES.has(base)) return 'lockfile';
  if (MINIFIED_NAME.test(base)) return 'minified';
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a file's bytes, or says why it is not source text (NUL bytes, invalid UTF-8). */
export function decodeSource(bytes: Uint8Array): { text: string } | { skip: SkipReason } {
  if (bytes.indexOf(0) !== -1) return { skip: 'binary' };
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    return { skip: 'not-utf8' };
  }
}

/** The content rule a decoded text breaks, if any: minified (long lines dominate) or generated (header marker). */
export function skipByText(text: string, rules: FileRules = defaultRules): SkipReason | undefined {
  if (text.indexOf('\0') !== -1) return 'binary';
  let longChars = 0;
  let start = 0;
  let headEnd = -1;
  for (let line = 0; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (end - start > rules.longLineChars) longChars += end - start;
    if (line === HEAD_LINES - 1) headEnd = end;
    start = end + 1;
  }
  if (text.length > 0 && longChars / text.length > rules.maxLongLineShare) return 'minified';
  if (GENERATED_MARKER.test(headEnd === -1 ? text : text.slice(0, headEnd))) return 'generated';
  return undefined;
}
