// The TypeScript folders' layering, checked (npm test runs it: `npm run check:layers`). Every relative import
// must point down this list or stay in its own folder, and no files may import each other in a circle:
//
//   common/     pure Node: the package root, model files (discovery, GGUF header, description, download)
//   native/     the addon's typed bindings (*.ts beside the C++ engine)
//   vocab/      the frequency-ranked draft vocabulary
//   sidecar/    the engine's process (session, decoder, protocol; http/ its HTTP server)
//   extension/  the VS Code side; it runs in the editor and never loads the addon, so it may import only the
//               files listed in EXTENSION_MAY_IMPORT from the layers below (plus common/ and its own files)
//   fixtures/   what benchmarks and tests set up: GGUF files written here (random weights, tokenizer
//               vocabularies), a `frspec serve --http` child process
//   bench/      benchmarks (they drive the sidecar and the extension's prompt builder)
//   cli/        the `frspec` command line (its bench commands run bench/)
//   test/, scripts/, esbuild.mjs   on top: may import anything
//
// Prints each offending import (file:line) and exits 1; exits 0 with a one-line summary otherwise.
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
export const LAYERS = ['common', 'native', 'vocab', 'sidecar', 'extension', 'fixtures', 'bench', 'cli', 'top'] as const;
type Layer = (typeof LAYERS)[number];

/** What the extension bundle (dist/extension.js, the editor's process) may take from below: pure files only. */
export const EXTENSION_MAY_IMPORT = [
  'sidecar/protocol.ts', 'sidecar/jsonrpc.ts', 'vocab/export.ts', 'vocab/format.ts', 'native/addon-platform.ts',
];

function layerOf(rel: string): Layer | undefined {
  const top = rel.split('/')[0];
  if (top === 'test' || top === 'scripts' || rel === 'esbuild.mjs') return 'top';
  if (top === 'native') return rel.split('/').length === 2 ? 'native' : undefined;  // native/*.ts only
  return (LAYERS as readonly string[]).includes(top) ? (top as Layer) : undefined;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (!['node_modules', 'dist', 'build', '.git', '.cache'].includes(e.name) && !e.name.startsWith('build-')) sources(rel, out);
    } else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') && layerOf(rel)) out.push(rel);
  }
  return out;
}

/** The relative imports of a file (import/export from, require(), import()), resolved to repository paths. */
function importsOf(rel: string): { target: string; line: number }[] {
  const text = fs.readFileSync(path.join(root, rel), 'utf8');
  const out: { target: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\brequire\(\s*|\bimport\(\s*|^import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;
  for (let m; (m = re.exec(text));) {
    const base = path.normalize(path.join(path.dirname(rel), m[1])).split(path.sep).join('/');
    const target = [base, `${base}.ts`, `${base}/index.ts`, `${base}.mjs`].find((c) => fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile());
    if (target && /\.(ts|mjs)$/.test(target)) out.push({ target, line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** Circles of files importing each other (strongly connected components of more than one file). */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      for (let w; (w = stack.pop()!) !== v;) { on.delete(w); c.push(w); }
      on.delete(v); c.push(v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

export function checkLayers(): { files: number; imports: number; problems: string[] } {
  const files = sources('');
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  let imports = 0;
  for (const f of files) {
    const from = layerOf(f)!;
    const deps = importsOf(f);
    graph.set(f, deps.map((d) => d.target));
    for (const d of deps) {
      imports++;
      const to = layerOf(d.target);
      const fromTop = f.split('/')[0], toTop = d.target.split('/')[0];
      if (!to) problems.push(`${f}:${d.line}: imports ${d.target}, which is in no layer (scripts/check-layers.ts)`);
      else if (fromTop === toTop) continue;
      else if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) problems.push(`${f}:${d.line}: ${from}/ imports ${d.target} from a higher layer (${to}/)`);
      else if (from === 'extension' && to !== 'common' && !EXTENSION_MAY_IMPORT.includes(d.target))
        problems.push(`${f}:${d.line}: the extension imports ${d.target}, which is not in EXTENSION_MAY_IMPORT (the editor's process loads only pure files)`);
    }
  }
  for (const c of circles(graph)) problems.push(`import circle: ${c.join(' -> ')}`);
  return { files: files.length, imports, problems };
}

if (require.main === module) {
  const r = checkLayers();
  for (const p of r.problems) console.log(p);
  console.log(r.problems.length
    ? `check-layers: ${r.problems.length} problem(s) in ${r.files} files (the layering is in scripts/check-layers.ts and README.md)`
    : `check-layers: ${r.files} files, ${r.imports} relative imports, all point down ${LAYERS.join(' < ')}; no circles`);
  process.exitCode = r.problems.length ? 1 : 0;
}
