// Finding GGUF models users already have: explicit paths, the demo models beside the checkout, and the
// caches of Ollama, LM Studio, llama.cpp and the Hugging Face hub. Only the first bytes of each
// candidate are read (the GGUF magic), so scanning is cheap and never loads a model.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface FoundModel {
  path: string; bytes: number; source: string;
  /** The name the user knows it by: Ollama's manifest name (`qwen2.5-coder:1.5b`), LM Studio's publisher/model. */
  name?: string;
}

const GGUF_MAGIC = Buffer.from('GGUF');

function isGguf(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);  // never waits (a FIFO swapped in after the stat)
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.equals(GGUF_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Folders where local-model tools keep GGUF files, with a label for each. */
export function knownModelFolders(home = os.homedir()): Array<{ dir: string; source: string; anyName?: boolean }> {
  const env = process.env;
  return [
    { dir: env.OLLAMA_MODELS ? path.join(env.OLLAMA_MODELS, 'blobs') : path.join(home, '.ollama', 'models', 'blobs'), source: 'Ollama', anyName: true },
    { dir: path.join(home, '.lmstudio', 'models'), source: 'LM Studio' },
    { dir: path.join(home, '.cache', 'lm-studio', 'models'), source: 'LM Studio' },
    { dir: env.LLAMA_CACHE ?? path.join(home, '.cache', 'llama.cpp'), source: 'llama.cpp' },
    { dir: path.join(env.HF_HOME ?? path.join(home, '.cache', 'huggingface'), 'hub'), source: 'Hugging Face cache' },
  ];
}

/** GGUF files under the known folders (depth-limited walk; Ollama blobs have no extension). */
export function discoverModels(folders = knownModelFolders(), maxDepth = 5): FoundModel[] {
  const found: FoundModel[] = [];
  const seen = new Set<string>();
  let folder: { dir: string; source: string; anyName?: boolean } = folders[0];
  const ollama = new Map<string, string>();
  const nameIn = (f: typeof folder, file: string): string | undefined => {
    if (f.source === 'Ollama') return ollama.get(path.basename(file));
    const rel = path.relative(f.dir, file).split(path.sep);
    return f.source === 'LM Studio' && rel.length >= 3 ? `${rel[0]}/${rel[1]}` : undefined;
  };
  const walk = (dir: string, depth: number, source: string, anyName: boolean) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < maxDepth) walk(p, depth + 1, source, anyName);
      else if ((e.isFile() || e.isSymbolicLink()) && (anyName || e.name.toLowerCase().endsWith('.gguf'))) {
        let real: string, st: fs.Stats;
        try { real = fs.realpathSync(p); st = fs.statSync(real); } catch { continue; }
        if (!st.isFile() || seen.has(real) || st.size < 1024 || !isGguf(real)) continue;
        seen.add(real);
        found.push({ path: p, bytes: st.size, source, name: nameIn(folder, p) });
      }
    }
  };
  for (const f of folders) {
    folder = f;
    if (f.source === 'Ollama') for (const [blob, name] of ollamaModelNames(path.join(f.dir, '..', 'manifests'))) if (!ollama.has(blob)) ollama.set(blob, name);
    walk(f.dir, 0, f.source, !!f.anyName);
  }
  return found.sort((a, b) => a.bytes - b.bytes);
}

/**
 * Ollama's names for its model blobs: manifests/<host>/<namespace>/<model>/<tag> is JSON whose layer of
 * mediaType application/vnd.ollama.image.model has digest sha256:<hex>, stored as blobs/sha256-<hex>.
 * Returns blob file name -> `model:tag` (library models), `namespace/model:tag` or `host/namespace/model:tag`.
 */
export function ollamaModelNames(manifestsDir: string): Map<string, string> {
  const names = new Map<string, string>();
  const list = (d: string) => { try { return fs.readdirSync(d, { withFileTypes: true }); } catch { return []; } };
  for (const host of list(manifestsDir).filter((e) => e.isDirectory())) {
    for (const ns of list(path.join(manifestsDir, host.name)).filter((e) => e.isDirectory())) {
      for (const model of list(path.join(manifestsDir, host.name, ns.name)).filter((e) => e.isDirectory())) {
        for (const tag of list(path.join(manifestsDir, host.name, ns.name, model.name)).filter((e) => e.isFile())) {
          let manifest: any;
          try {
            const file = path.join(manifestsDir, host.name, ns.name, model.name, tag.name);
            if (fs.statSync(file).size > 1 << 20) continue;  // manifests are small JSON; anything else is not one
            manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
          } catch { continue; }
          const layer = Array.isArray(manifest?.layers) ? manifest.layers.find((l: any) => l?.mediaType === 'application/vnd.ollama.image.model') : undefined;
          const m = typeof layer?.digest === 'string' ? /^sha256[:-]([0-9a-f]{64})$/.exec(layer.digest) : null;
          if (!m) continue;
          const prefix = host.name === 'registry.ollama.ai' ? (ns.name === 'library' ? '' : `${ns.name}/`) : `${host.name}/${ns.name}/`;
          const name = `${prefix}${model.name}:${tag.name}`;
          const blob = `sha256-${m[1]}`;
          // Several tags can share a blob (latest and 1.5b): keep the more specific, non-"latest" one.
          const had = names.get(blob);
          if (!had || (had.endsWith(':latest') && !name.endsWith(':latest'))) names.set(blob, name);
        }
      }
    }
  }
  return names;
}

/** The shared folder beside the checkout (or $FRSPEC_SHARED), or undefined when it is absent. */
export function sharedDir(repoRoot: string): string | undefined {
  const dir = process.env.FRSPEC_SHARED ?? path.resolve(repoRoot, '..', 'shared');
  return fs.existsSync(path.join(dir, 'models', 'demo-target.gguf.xz')) ? dir : undefined;
}

export type DemoModelName = 'demo-target' | 'demo-draft' | 'demo-eagle';

/** A demo model from ../shared/models, decompressed once into .cache/models; undefined without ../shared. */
export function demoModelPath(repoRoot: string, name: DemoModelName): string | undefined {
  const shared = sharedDir(repoRoot);
  if (!shared) return undefined;
  const file = path.join(repoRoot, '.cache', 'models', `${name}.gguf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;  // renamed when complete: parallel runs never see half a model
    execFileSync('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', path.join(shared, 'models', `${name}.gguf.xz`), tmp]);
    fs.renameSync(tmp, file);
  }
  return file;
}
