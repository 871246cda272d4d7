// Walks a source folder the way a developer sees it: .gitignore files (nested, with negation) are
// respected, version-control and dependency folders are skipped, symlinks are followed but every real
// directory and file is visited once (no loops, no double counts), and name/size rules apply unread.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { defaultRules, type FileRules, type SkipReason, skipByName } from './rules';

/** A file the walk found worth reading; `rel` uses '/' and is relative to the walked root. */
export interface WalkedFile {
  abs: string;
  rel: string;
  size: number;
  mtimeMs: number;
}

export type WalkSkipReason = SkipReason | 'gitignored' | 'ignored-folder' | 'duplicate-folder' | 'duplicate-file' | 'broken-link';

export interface WalkResult {
  files: WalkedFile[];
  /** How many entries (files, or whole folders for folder reasons) each rule left out. */
  skipped: Partial<Record<WalkSkipReason, number>>;
}

const ALWAYS_SKIPPED_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules']);

interface IgnoreScope {
  /** Folder of the .gitignore, relative to the root with a trailing '/', or '' for the root. */
  base: string;
  rules: Ignore;
}

/** The deepest .gitignore with a rule for the path decides (git's precedence); undefined = none applies. */
function isIgnored(scopes: IgnoreScope[], rel: string, isDir: boolean): boolean {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const local = rel.slice(scopes[i].base.length) + (isDir ? '/' : '');
    const r = scopes[i].rules.test(local);
    if (r.ignored) return true;
    if (r.unignored) return false;
  }
  return false;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
}

/** Lists the countable files under `root` (sorted by path), with counts of what was skipped and why. */
export function walkFolder(root: string, rules: FileRules = defaultRules, signal?: AbortSignal): WalkResult {
  const rootStat = fs.statSync(root);  // throws ENOENT with the path: a clear error for a bad argument
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a folder`);
  const files: WalkedFile[] = [];
  const skipped: WalkResult['skipped'] = {};
  const skip = (reason: WalkSkipReason) => { skipped[reason] = (skipped[reason] ?? 0) + 1; };
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const identity = (st: fs.Stats) => `${st.dev}:${st.ino}`;

  const visit = (absDir: string, relDir: string, scopes: IgnoreScope[]) => {
    throwIfAborted(signal);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(absDir, { withFileTypes: true });
    } catch {
      skip('unreadable');
      return;
    }
    if (entries.some((e) => e.name === '.gitignore')) {
      let rules: string | undefined;
      try { rules = fs.readFileSync(path.join(absDir, '.gitignore'), 'utf8'); } catch { /* a folder, or unreadable: no rules */ }
      if (rules !== undefined) scopes = [...scopes, { base: relDir, rules: ignore().add(rules) }];
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const abs = path.join(absDir, entry.name);
      const rel = relDir + entry.name;
      let st: fs.Stats;
      try {
        st = entry.isSymbolicLink() ? fs.statSync(abs) : fs.lstatSync(abs);
      } catch {
        skip(entry.isSymbolicLink() ? 'broken-link' : 'unreadable');
        continue;
      }
      if (st.isDirectory()) {
        if (ALWAYS_SKIPPED_DIRS.has(entry.name)) { skip('ignored-folder'); continue; }
        if (isIgnored(scopes, rel, true)) { skip('gitignored'); continue; }
        const id = identity(st);
        if (seenDirs.has(id)) { skip('duplicate-folder'); continue; }
        seenDirs.add(id);
        visit(abs, rel + '/', scopes);
      } else if (st.isFile()) {
        if (isIgnored(scopes, rel, false)) { skip('gitignored'); continue; }
        const byName = skipByName(entry.name);
        if (byName) { skip(byName); continue; }
        if (st.size > rules.maxFileBytes) { skip('too-large'); continue; }
        const id = identity(st);
        if (seenFiles.has(id)) { skip('duplicate-file'); continue; }
        seenFiles.add(id);
        files.push({ abs, rel, size: st.size, mtimeMs: st.mtimeMs });
      }
      // Sockets, FIFOs and devices are not source files: passed over silently.
    }
  };
  seenDirs.add(identity(rootStat));
  visit(root, '', []);
  return { files, skipped };
}
