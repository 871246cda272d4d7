// Which platform a native addon is built for, where the addon of this platform lies in a package, and the one
// message a user sees when it is missing or built for another platform. Pure Node (no addon, no vscode): the
// extension checks before it starts the sidecar, native/addon.ts before it loads the addon, and
// scripts/package-vsix.ts before it packs one.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The platforms a VSIX is built for (`vsce package --target`), as `${process.platform}-${process.arch}`. */
export const SUPPORTED_TARGETS = ['linux-x64', 'linux-arm64', 'win32-x64', 'darwin-arm64', 'darwin-x64'] as const;
export type Target = (typeof SUPPORTED_TARGETS)[number];

export const hostTarget = (platform: string = process.platform, arch: string = process.arch): string => `${platform}-${arch}`;

export const isSupported = (target: string): target is Target => (SUPPORTED_TARGETS as readonly string[]).includes(target);

const supportedList = `supported platforms: ${SUPPORTED_TARGETS.slice(0, -1).join(', ')} and ${SUPPORTED_TARGETS.at(-1)}`;

/**
 * The targets a binary's header says it runs on: ELF (Linux), PE (Windows DLL, which a .node is there) or Mach-O
 * (macOS; a universal file lists each architecture). Empty for anything else or an architecture we never build.
 */
export function binaryTargets(header: Buffer): string[] {
  const arch = (name: string | undefined) => (name ? [name] : []);
  if (header.length >= 20 && header.readUInt32BE(0) === 0x7f454c46) {  // "\x7fELF"
    if (header[4] !== 2 || header[5] !== 1) return [];  // 64-bit little-endian only
    const machine = header.readUInt16LE(18);
    return arch({ 0x3e: 'x64', 0xb7: 'arm64' }[machine]).map((a) => `linux-${a}`);
  }
  if (header.length >= 64 && header.readUInt16BE(0) === 0x4d5a) {  // "MZ"
    const pe = header.readUInt32LE(0x3c);
    if (pe + 6 > header.length || header.readUInt32BE(pe) !== 0x50450000) return [];  // "PE\0\0"
    const machine = header.readUInt16LE(pe + 4);
    return arch({ 0x8664: 'x64', 0xaa64: 'arm64' }[machine]).map((a) => `win32-${a}`);
  }
  const macArch = (cpu: number) => ({ 0x01000007: 'x64', 0x0100000c: 'arm64' }[cpu]);
  if (header.length >= 8 && header.readUInt32LE(0) === 0xfeedfacf) return arch(macArch(header.readInt32LE(4))).map((a) => `darwin-${a}`);
  if (header.length >= 8 && header.readUInt32BE(0) === 0xcafebabe) {  // universal: big-endian fat_arch entries of 20 bytes
    const n = header.readUInt32BE(4);
    const out: string[] = [];
    for (let i = 0; i < n && 8 + 20 * (i + 1) <= header.length && n < 32; i++) out.push(...arch(macArch(header.readInt32BE(8 + 20 * i))));
    return out.map((a) => `darwin-${a}`);
  }
  return [];
}

/** binaryTargets of a file (its first 4 KB); empty when it cannot be read. */
export function fileTargets(file: string): string[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4096);
    return binaryTargets(buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)));
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The addon a VSIX for `target` carries, relative to the package root. */
export const packagedAddon = (target: string): string => path.join('dist', 'addon', target, 'frspec.node');

/**
 * The addon to load from package root `root`: build/Release/frspec.node when it was built here (`npm run
 * build:native`, a checkout), else the packaged one of this platform (a VSIX).
 */
export function addonFile(root: string, target: string = hostTarget()): string {
  const built = path.join(root, 'build', 'Release', 'frspec.node');
  return fs.existsSync(built) ? built : path.join(root, packagedAddon(target));
}

/**
 * Why the addon at `file` cannot run on `target` (this machine), or undefined when it can. One sentence that
 * names the supported platforms, for the user.
 */
export function addonProblem(file: string, target: string = hostTarget()): string | undefined {
  const fix = (t: string) => `install the FR-Spec Complete package for ${t} (${supportedList})`;
  if (!isSupported(target)) return `FR-Spec Complete's native engine does not run on ${target}: ${supportedList}`;
  if (!fs.existsSync(file)) {
    const dir = path.dirname(path.dirname(file));
    const others = path.basename(dir) === 'addon' && fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d !== target) : [];
    const holds = others.length ? `; this package holds the engine for ${others.join(', ')}` : '';
    return `the native engine for ${target} is missing (${file})${holds}: ${fix(target)}`;
  }
  const built = fileTargets(file);
  if (built.includes(target)) return undefined;
  const what = built.length ? `built for ${built.join(', ')}` : 'not a native library of any supported platform';
  return `the native engine ${file} is ${what}, but this is ${target}: ${fix(target)}`;
}
