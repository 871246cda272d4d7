// Access to ../shared (demo models, corpus, tokenizer vectors) for tests and benchmarks. The project must
// build and pass its own unit tests without it, so every user checks for `undefined` and skips clearly.
import { spawn } from 'node:child_process';
import { demoModelPath, type DemoModelName, sharedDir as sharedDirOf } from '../../common/models';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** The shared folder beside the checkout (or $FRSPEC_SHARED), or undefined when it is absent. */
export const sharedDir = (): string | undefined => sharedDirOf(repoRoot);

export type DemoModel = DemoModelName;

/** Path of a decompressed demo model in .cache/models (decompressing it once), or undefined without ../shared. */
export const demoModel = (name: DemoModel): string | undefined => demoModelPath(repoRoot, name);

export interface CorpusFile { lang: string; path: string; text: string }

/** Streams a JSON-lines corpus ({lang, path, text} per line), .xz-compressed or not. */
export async function* readJsonl(file: string): AsyncIterable<CorpusFile> {
  const xz = file.endsWith('.xz');
  const child = xz ? spawn('xz', ['-dc', file], { stdio: ['ignore', 'pipe', 'inherit'] }) : undefined;
  const input = child ? child.stdout! : fs.createReadStream(file);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line.trim()) yield JSON.parse(line) as CorpusFile;
  } finally {
    child?.kill();
  }
}
export const readJsonlXz = readJsonl;

/** Mocha helper: skip the current test or suite with a clear reason when ../shared is absent. */
export function requireShared(ctx: Mocha.Context): string {
  const dir = sharedDir();
  if (!dir) {
    console.log('    (skipped: ../shared is absent; demo models, corpus and tokenizer vectors live there)');
    ctx.skip();
  }
  return dir!;
}
