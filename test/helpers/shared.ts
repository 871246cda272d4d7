// Access to ../shared (demo models, corpus, tokenizer vectors) for tests and benchmarks. The project must
// build and pass its own unit tests without it, so every user checks for `undefined` and skips clearly.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** The shared folder beside the checkout (or $FRSPEC_SHARED), or undefined when it is absent. */
export function sharedDir(): string | undefined {
  const dir = process.env.FRSPEC_SHARED ?? path.resolve(repoRoot, '..', 'shared');
  return fs.existsSync(path.join(dir, 'README.md')) ? dir : undefined;
}

export type DemoModel = 'demo-target' | 'demo-draft' | 'demo-eagle';

/** Path of a decompressed demo model in .cache/models (decompressing it once), or undefined without ../shared. */
export function demoModel(name: DemoModel): string | undefined {
  const shared = sharedDir();
  if (!shared) return undefined;
  const out = path.join(repoRoot, '.cache', 'models', `${name}.gguf`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', path.join(shared, 'models', `${name}.gguf.xz`), tmp]);
    fs.renameSync(tmp, out);  // atomic: parallel test processes never see a half-written model
  }
  return out;
}

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
