// Walks a source folder the way a developer sees it: .gitignore files (nested, with negation) are
// respected, version-control and dependency folders are skipped, symlinks are followed but every real
// directory and file is visited once (no loops, no double counts), and name/size rules apply unread.
// Only regular files are listed: FIFOs, devices and sockets, and links into /proc, /sys or /dev (a link
// to /proc/kmsg would block its reader), are skipped as 'special-file'. Names are handled as bytes, so a
// name that is not UTF-8 (byte 0xFF) is still found and read.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { defaultRules, type FileRules, type SkipReason, skipByName } from './rules';
import { isUnderSystemRoot, readRegularFile } from '../common/safe-fs';

/** A file the walk found worth reading; `rel` uses '/' and is relative to the walked root. */
export interface WalkedFile {
  /** The path to read: a string, or the raw bytes when the name is not valid UTF-8. */
  abs: string | Buffer;
  rel: string;
  size: number;
  mtimeMs: number;
}

export type WalkSkipReason = SkipReason | 'gitignored' | 'ignored-folder' | 'duplicate-folder' | 'duplicate-file' | 'broken-link' | 'special-file';

export interface WalkResult {
  files: WalkedFile[];
  /** How many entries (files, or whole folders for folder reasons) each rule left out. */
  skipped: Partial<Record<WalkSkipReason, number>>;
}

const ALWAYS_SKIPPED_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules']);
const SLASH = Buffer.from('/');
const GITIGNORE = Buffer.from('.gitignore');
const MAX_GITIGNORE_BYTES = 1 << 20;

/** A file name as text for rules and cache keys; bytes that are not UTF-8 are written %XX (stable, distinct). */
function nameText(name: Buffer): string {
  const text = name.toString('utf8');
  if (Buffer.from(text).equals(name)) return text;
  let out = '';
  for (const b of name) out += b < 0x80 && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

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

  const visit = (absDir: Buffer, relDir: string, scopes: IgnoreScope[]) => {
    throwIfAborted(signal);
    let entries: fs.Dirent<Buffer>[];
    try {
      entries = fs.readdirSync(absDir, { withFileTypes: true, encoding: 'buffer' });
    } catch {
      skip('unreadable');
      return;
    }
    const child = (name: Buffer) => Buffer.concat(absDir[absDir.length - 1] === SLASH[0] ? [absDir, name] : [absDir, SLASH, name]);
    const gitignore = entries.find((e) => e.name.equals(GITIGNORE));
    if (gitignore) {
      let rules: string | undefined;
      try { rules = readRegularFile(child(gitignore.name), { maxBytes: MAX_GITIGNORE_BYTES, what: '.gitignore' }).toString('utf8'); } catch { /* a folder, a FIFO, unreadable: no rules */ }
      if (rules !== undefined) scopes = [...scopes, { base: relDir, rules: ignore().add(rules) }];
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const entry of entries) {
      const absBytes = child(entry.name);
      const name = nameText(entry.name);
      const rel = relDir + name;
      let st: fs.Stats;
      try {
        if (entry.isSymbolicLink() && isUnderSystemRoot(fs.realpathSync(absBytes).toString())) { skip('special-file'); continue; }
        st = entry.isSymbolicLink() ? fs.statSync(absBytes) : fs.lstatSync(absBytes);
      } catch {
        skip(entry.isSymbolicLink() ? 'broken-link' : 'unreadable');
        continue;
      }
      if (st.isDirectory()) {
        if (ALWAYS_SKIPPED_DIRS.has(name)) { skip('ignored-folder'); continue; }
        if (isIgnored(scopes, rel, true)) { skip('gitignored'); continue; }
        const id = identity(st);
        if (seenDirs.has(id)) { skip('duplicate-folder'); continue; }
        seenDirs.add(id);
        visit(absBytes, rel + '/', scopes);
      } else if (st.isFile()) {
        if (isIgnored(scopes, rel, false)) { skip('gitignored'); continue; }
        const byName = skipByName(name);
        if (byName) { skip(byName); continue; }
        if (st.size > rules.maxFileBytes) { skip('too-large'); continue; }
        const id = identity(st);
        if (seenFiles.has(id)) { skip('duplicate-file'); continue; }
        seenFiles.add(id);
        const asText = absBytes.toString('utf8');
        files.push({ abs: Buffer.from(asText).equals(absBytes) ? asText : absBytes, rel, size: st.size, mtimeMs: st.mtimeMs });
      } else {
        skip('special-file');  // sockets, FIFOs and devices are not source files
      }
    }
  };
  seenDirs.add(identity(rootStat));
  visit(Buffer.from(path.normalize(root).replace(/(.)\/+$/, '$1')), '', []);
  return { files, skipped };
}
