// File access for paths a user (or a workspace) chose: nothing here can wait forever or read without bound.
// A file is opened non-blocking (a FIFO opened for reading would otherwise wait for a writer, a device
// such as /proc/kmsg would wait for data) and its type checked on the opened descriptor: only regular
// files are read, each up to a limit. Folders to write into are created one level at a time, never
// under /proc, /sys or /dev. Every error names the path.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Kernel file systems: nothing a user means as source code, a model, a vocabulary or an output lives there. */
const SYSTEM_ROOTS = ['/proc', '/sys', '/dev'];

export function isUnderSystemRoot(p: string): boolean {
  const abs = path.resolve(p);
  return SYSTEM_ROOTS.some((r) => abs === r || abs.startsWith(r + '/'));
}

/** What a non-regular file is, in words. */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

const show = (p: fs.PathLike) => (Buffer.isBuffer(p) ? p.toString() : String(p));
const why = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Opens a regular file for reading without ever blocking; refuses anything else. The caller closes the fd. */
export function openRegular(file: fs.PathLike, what = 'file'): { fd: number; size: number; stat: fs.Stats } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new Error(`${show(file)}: cannot read: ${why(e)}`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new Error(`${show(file)}: is ${fileKind(stat)}, not a regular file (expected a ${what})`);
  }
  return { fd, size: stat.size, stat };
}

/**
 * Reads a whole regular file of at most `maxBytes`. The limit is checked before reading (stat size) and
 * while reading (files in /proc report size 0 and files can grow), so memory stays bounded.
 */
export function readRegularFile(file: fs.PathLike, opts: { maxBytes: number; what?: string }): Buffer {
  const what = opts.what ?? 'file';
  const { fd, size } = openRegular(file, what);
  const tooLarge = (n: number) => new Error(`${show(file)}: ${n} bytes or more is over the limit of ${opts.maxBytes} bytes for a ${what}`);
  try {
    if (size > opts.maxBytes) throw tooLarge(size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(Math.max(size - total, 64 * 1024), opts.maxBytes + 1 - total);
      const buf = Buffer.allocUnsafe(Math.max(want, 1));
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') throw new Error(`${show(file)}: reading the ${what} would wait for data (not a regular file's contents)`);
        throw new Error(`${show(file)}: cannot read the ${what}: ${why(e)}`);
      }
      if (n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > opts.maxBytes) throw tooLarge(total);
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes sure `dir` exists as a folder, creating missing levels one at a time (Node's recursive mkdir
 * spins on some kernel file systems). Refuses /proc, /sys, /dev and a path whose existing part is a file.
 */
export function ensureDir(dir: string, what = 'folder'): void {
  const abs = path.resolve(dir);
  if (isUnderSystemRoot(abs)) throw new Error(`${dir}: refusing to write under ${abs.split('/').slice(0, 2).join('/')} (choose a ${what} elsewhere)`);
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    let st: fs.Stats | undefined;
    try { st = fs.statSync(at); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${dir}: cannot use ${at}: ${why(e)}`);
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`${dir}: ${at} is ${fileKind(st)}, not a folder`);
      break;
    }
    missing.push(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) {
    try { fs.mkdirSync(d); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${dir}: cannot create ${d}: ${why(e)}`);
    }
  }
}

/**
 * Checks that `file` can be written as an output: its folder exists (or is created) outside /proc, /sys
 * and /dev, and the path is not a directory or other non-regular file.
 */
export function checkOutputFile(file: string, what = 'output file'): void {
  if (!file) throw new Error(`the ${what} path is empty`);
  if (isUnderSystemRoot(file)) throw new Error(`${file}: refusing to write a ${what} under ${path.resolve(file).split('/').slice(0, 2).join('/')}`);
  let st: fs.Stats | undefined;
  try { st = fs.statSync(file); } catch { /* absent: fine */ }
  if (st && !st.isFile()) throw new Error(`${file}: is ${fileKind(st)}, not a regular file; choose a file name for the ${what}`);
  if (st && isUnderSystemRoot(fs.realpathSync(file))) throw new Error(`${file}: links into ${fs.realpathSync(file)}; refusing to write a ${what} there`);
  ensureDir(path.dirname(path.resolve(file)), `folder for the ${what}`);
}

/** Writes `data` to `file` through a temporary file and a rename; the temporary file never stays behind. */
export function writeFileAtomic(file: string, data: Uint8Array, what = 'output file'): void {
  checkOutputFile(file, what);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    throw new Error(`${file}: cannot write the ${what}: ${why(e)}`);
  }
}
