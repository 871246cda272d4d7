// The native addon's platform check (native/addon-platform.ts): which platform a binary is built for (ELF, PE,
// Mach-O headers: real files of this machine and headers laid out as the formats define them), where a package
// keeps its addon, and the one message a user gets for a missing or foreign addon, naming the supported platforms.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addonFile, addonProblem, binaryTargets, fileTargets, hostTarget, packagedAddon, SUPPORTED_TARGETS } from '../../native/addon-platform';
import { repoRoot } from '../helpers/shared';

const supported = 'supported platforms: linux-x64, linux-arm64, win32-x64, darwin-arm64 and darwin-x64';

function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;  // 64-bit
  b[5] = 1;  // little-endian
  b.writeUInt16LE(machine, 18);
  return b;
}
function pe(machine: number): Buffer {
  const b = Buffer.alloc(256);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);  // e_lfanew
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(machine, 0x84);
  return b;
}
function macho(cpu: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeInt32LE(cpu, 4);
  return b;
}
function universal(...cpus: number[]): Buffer {
  const b = Buffer.alloc(8 + 20 * cpus.length);
  b.writeUInt32BE(0xcafebabe, 0);
  b.writeUInt32BE(cpus.length, 4);
  cpus.forEach((c, i) => b.writeInt32BE(c, 8 + 20 * i));
  return b;
}

describe('native addon platform check', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-addon-platform-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads the platform from ELF, PE and Mach-O headers', () => {
    assert.deepEqual(binaryTargets(elf(0x3e)), ['linux-x64']);
    assert.deepEqual(binaryTargets(elf(0xb7)), ['linux-arm64']);
    assert.deepEqual(binaryTargets(elf(0x28)), [], '32-bit ARM: never built');
    assert.deepEqual(binaryTargets(pe(0x8664)), ['win32-x64']);
    assert.deepEqual(binaryTargets(pe(0xaa64)), ['win32-arm64']);
    assert.deepEqual(binaryTargets(macho(0x0100000c)), ['darwin-arm64']);
    assert.deepEqual(binaryTargets(macho(0x01000007)), ['darwin-x64']);
    assert.deepEqual(binaryTargets(universal(0x01000007, 0x0100000c)), ['darwin-x64', 'darwin-arm64']);
    assert.deepEqual(binaryTargets(Buffer.from('#!/bin/sh\necho not a library\n')), []);
    assert.deepEqual(binaryTargets(Buffer.alloc(0)), []);
    const truncated = pe(0x8664).subarray(0, 0x70);  // e_lfanew points past the end
    assert.deepEqual(binaryTargets(truncated), []);
  });

  it('recognises this machine\'s own binaries (node, and the addon when built)', function () {
    if (!SUPPORTED_TARGETS.includes(hostTarget() as never)) this.skip();
    assert.deepEqual(fileTargets(process.execPath), [hostTarget()]);
    const built = path.join(repoRoot, 'build', 'Release', 'frspec.node');
    if (fs.existsSync(built)) assert.deepEqual(fileTargets(built), [hostTarget()]);
    assert.deepEqual(fileTargets(path.join(tmp, 'absent.node')), []);
  });

  it('loads build/Release in a checkout, else the addon packaged for this platform', () => {
    const pkg = path.join(tmp, 'pkg-order');
    assert.equal(addonFile(pkg, 'win32-x64'), path.join(pkg, 'dist', 'addon', 'win32-x64', 'frspec.node'));
    fs.mkdirSync(path.join(pkg, 'build', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'build', 'Release', 'frspec.node'), elf(0x3e));
    assert.equal(addonFile(pkg, 'win32-x64'), path.join(pkg, 'build', 'Release', 'frspec.node'));
    assert.equal(packagedAddon('darwin-arm64'), path.join('dist', 'addon', 'darwin-arm64', 'frspec.node'));
  });

  it('accepts the addon of this platform and refuses a missing or foreign one with one message naming the supported platforms', () => {
    const pkg = path.join(tmp, 'vsix');  // a linux-x64 VSIX as installed
    const linux = path.join(pkg, packagedAddon('linux-x64'));
    fs.mkdirSync(path.dirname(linux), { recursive: true });
    fs.writeFileSync(linux, elf(0x3e));
    assert.equal(addonProblem(linux, 'linux-x64'), undefined);

    // Installed on a Mac: its addon is missing, and the package says which one it holds.
    const mac = path.join(pkg, packagedAddon('darwin-arm64'));
    assert.equal(addonProblem(mac, 'darwin-arm64'),
      `the native engine for darwin-arm64 is missing (${mac}); this package holds the engine for linux-x64: ` +
      `install the FR-Spec Complete package for darwin-arm64 (${supported})`);

    // A foreign addon where this platform's should be (copied by hand, or a wrong build packed).
    const win = path.join(pkg, packagedAddon('win32-x64'));
    fs.mkdirSync(path.dirname(win), { recursive: true });
    fs.copyFileSync(linux, win);
    assert.equal(addonProblem(win, 'win32-x64'),
      `the native engine ${win} is built for linux-x64, but this is win32-x64: install the FR-Spec Complete package for win32-x64 (${supported})`);
    fs.writeFileSync(win, 'not a library');
    assert.match(addonProblem(win, 'win32-x64')!, /is not a native library of any supported platform, but this is win32-x64: .*supported platforms: linux-x64/);

    // A platform no package exists for.
    assert.equal(addonProblem(linux, 'freebsd-x64'), `FR-Spec Complete's native engine does not run on freebsd-x64: ${supported}`);
    assert.equal(addonProblem(linux, 'win32-ia32'), `FR-Spec Complete's native engine does not run on win32-ia32: ${supported}`);
  });
});
