#!/usr/bin/env python3
"""Makes node-llama-cpp's libggml-cuda.so small and loadable on the GPU machine's driver.

The library (159 MB) holds, for each of its 143 translation units, a fat-binary container with PTX for
compute_75/80/90 and cubins for sm_86/89/120/121, built by CUDA 13.1. An H100/H200 (sm_90) can only use the
compute_90 PTX, and the GPU machine's driver (580, CUDA 13.0) refuses PTX of ISA 9.1 (CUDA 13.1's) --
JIT compilation needs a driver at least as new as the toolkit. So:
  --extract-ptx DIR   writes each unit's compute_90 PTX to DIR/NNN.ptx with its `.version` lowered to
                      --ptx-version (9.0: the features ggml's sm_90 code uses exist in ISA 9.0; ptxas 13.0
                      compiling every file proves it), for ptxas on the development machine;
  IN OUT              rewrites each container in place to hold DIR/NNN.cubin (sm_90 machine code, when
                      --cubins DIR has it: no JIT at all on the GPU machine) followed by the lowered PTX
                      (the driver's fallback), and nothing else. The container's size shrinks to what it
                      holds and its remaining bytes become zeros (which xz removes). Containers are found
                      by pointer (one __cudaRegisterFatBinary per unit), never by scanning, so the section
                      keeps its size and every offset outside the containers stays valid.

  prune_fatbin.py IN.so --extract-ptx DIR [--ptx-version 9.0]
  prune_fatbin.py IN.so OUT.so [--cubins DIR] [--ptx-version 9.0] [--no-ptx-fallback]
(--no-ptx-fallback: a unit with a cubin keeps no PTX; the library xz shrinks from ~48 to ~24 MB)
Layout (CUDA's fatbin.h, fields as read from this file): container = u32 magic 0xBA55ED50, u16 version,
u16 header size, u64 size of the entries; entry = u16 kind (1 PTX, 2 cubin), u16, u32 header size,
u64 payload size (8-aligned), u32 stored size at +16, u16 minor, u16 major (PTX ISA) at +24, u32 arch at
+28, u64 flags at +40 (0x8000: zstd-compressed payload), u64 uncompressed size at +56.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

MAGIC = 0xBA55ED50
ZSTD = 0x8000


def section(data, wanted):
    shoff = struct.unpack_from('<Q', data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    secs = [struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize) for i in range(shnum)]
    stroff = secs[shstrndx][4]
    for name, _typ, _flags, _addr, off, size in secs:
        if data[stroff + name:data.index(b'\0', stroff + name)].decode() == wanted:
            return off, size
    sys.exit(f'no {wanted} section')


def containers(data):
    """Yields (offset, header size, [(entry offset, header size, payload size, kind, arch)])."""
    start, size = section(data, '.nv_fatbin')
    pos = start
    while pos < start + size:
        magic, _ver, hsize, fsize = struct.unpack_from('<IHHQ', data, pos)
        if magic != MAGIC:
            pos += 8  # containers are 8-byte aligned; padding between them
            continue
        entries, e, end = [], pos + hsize, pos + hsize + fsize
        while e < end:
            kind, _ev, ehs, psize = struct.unpack_from('<HHIQ', data, e)
            entries.append((e, ehs, psize, kind, struct.unpack_from('<I', data, e + 28)[0]))
            e += ehs + psize
        yield pos, hsize, fsize, entries
        pos = end


def zstd(args, payload):
    with tempfile.NamedTemporaryFile() as f:  # from a file, so the frame records its content size
        f.write(payload)
        f.flush()
        return subprocess.run(['zstd', '-q', '-c', *args, f.name], capture_output=True, check=True).stdout


def payload_of(data, e, ehs):
    stored, flags, full = struct.unpack_from('<I', data, e + 16)[0], struct.unpack_from('<Q', data, e + 40)[0], \
        struct.unpack_from('<Q', data, e + 56)[0]
    raw = bytes(data[e + ehs:e + ehs + stored])
    if flags & ZSTD:
        raw = zstd(['-d'], raw)
        if len(raw) != full:
            sys.exit(f'entry at {e}: {len(raw)} bytes after zstd, header says {full}')
    return raw


def lower_ptx(ptx, version):
    major, minor = map(int, version.split('.'))
    m = re.search(rb'^\.version (\d+)\.(\d+)$', ptx, re.M)
    if not m:
        sys.exit('PTX without a .version line')
    if (int(m.group(1)), int(m.group(2))) > (major, minor):
        ptx = ptx[:m.start()] + f'.version {major}.{minor}'.encode() + ptx[m.end():]
    return ptx


def entry(template, kind, arch, raw, version=None):
    """An entry like `template` (its header bytes) holding `raw`, zstd-compressed."""
    ehs = struct.unpack_from('<I', template, 4)[0]
    packed = zstd(['-12'], raw)
    padded = packed + b'\0' * (-len(packed) % 8)
    h = bytearray(template[:ehs])
    struct.pack_into('<H', h, 0, kind)
    struct.pack_into('<Q', h, 8, len(padded))
    struct.pack_into('<I', h, 16, len(packed))
    if version:
        struct.pack_into('<HH', h, 24, *reversed(version))
    struct.pack_into('<I', h, 28, arch)
    struct.pack_into('<Q', h, 40, struct.unpack_from('<Q', h, 40)[0] | ZSTD)
    struct.pack_into('<Q', h, 56, len(raw))
    return bytes(h) + padded


def main():
    args = sys.argv[1:]
    opt = lambda name, default=None: args[args.index(name) + 1] if name in args else default
    version = opt('--ptx-version', '9.0')
    arch = 90
    if len(args) < 2:
        sys.exit(__doc__)
    data = bytearray(open(args[0], 'rb').read())
    extract, cubins = opt('--extract-ptx'), opt('--cubins')
    if extract:
        os.makedirs(extract, exist_ok=True)
    n = kept_cubin = 0
    for pos, hsize, fsize, entries in containers(data):
        ptx = [x for x in entries if x[3] == 1 and x[4] == arch]
        if not ptx:
            sys.exit(f'container at {pos} has no compute_{arch} PTX')
        e, ehs = ptx[0][0], ptx[0][1]
        text = lower_ptx(payload_of(data, e, ehs), version)
        if extract:
            open(os.path.join(extract, f'{n:03d}.ptx'), 'wb').write(text.rstrip(b'\0'))
            n += 1
            continue
        body = b''
        cubin = os.path.join(cubins, f'{n:03d}.cubin') if cubins else None
        if cubin and os.path.exists(cubin):
            template = next((x for x in entries if x[3] == 2 and x[1] == 64), None)
            if template is None:
                sys.exit(f'container at {pos} has no 64-byte cubin entry header to copy')
            body += entry(bytes(data[template[0]:template[0] + 64]), 2, arch, open(cubin, 'rb').read())
            kept_cubin += 1
        if not (body and '--no-ptx-fallback' in args):
            body += entry(bytes(data[e:e + ehs]), 1, arch, text, tuple(map(int, version.split('.'))))
        if len(body) > fsize:
            sys.exit(f'container at {pos}: the new entries ({len(body)} bytes) do not fit in {fsize}')
        data[pos + hsize:pos + hsize + fsize] = body + b'\0' * (fsize - len(body))
        struct.pack_into('<Q', data, pos + 8, len(body))
        n += 1
    if extract:
        print(f'{args[0]}: {n} compute_{arch} PTX files (ISA lowered to {version}) in {extract}')
        return
    open(args[1], 'wb').write(data)
    ptx = 'no PTX where a cubin is' if '--no-ptx-fallback' in args else f'compute_{arch} PTX (ISA {version}) in each'
    print(f'{args[0]} -> {args[1]}: {n} containers, {kept_cubin} with an sm_{arch} cubin, {ptx}')


if __name__ == '__main__':
    main()
