#!/usr/bin/env python3
"""Keeps only one kind of device code in a shared library's CUDA fat binary, so the library compresses small.

node-llama-cpp's libggml-cuda.so (159 MB) holds, for each of its translation units, a fat-binary container
with PTX for compute_75/80/90 and cubins for sm_86/89/120/121. An H100/H200 (sm_90) can only run the
compute_90 PTX (JIT-compiled by the driver at first use), so every other entry is dead weight on the GPU
machine. Each container is rewritten in place: the kept entry moves to the front, the container's size
shrinks to it and the rest of its bytes become zeros (which xz removes). Containers are found by pointer
(one __cudaRegisterFatBinary per unit), never by scanning, so the section keeps its size and every offset
outside the containers stays valid.

  prune_fatbin.py IN.so OUT.so [--keep-ptx 90]
Layout (CUDA's fatbin.h): container = u32 magic 0xBA55ED50, u16 version, u16 header size, u64 payload
size; entry = u16 kind (1 PTX, 2 cubin), u16 version, u32 header size, u64 payload size, ..., u32 arch at +28.
"""
import struct
import sys

MAGIC = 0xBA55ED50


def section(data, wanted):
    shoff = struct.unpack_from('<Q', data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    secs = [struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize) for i in range(shnum)]
    stroff = secs[shstrndx][4]
    for name, _typ, _flags, _addr, off, size in secs:
        if data[stroff + name:data.index(b'\0', stroff + name)].decode() == wanted:
            return off, size
    sys.exit(f'no {wanted} section')


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, dst = args[0], args[1]
    arch = int(args[args.index('--keep-ptx') + 1]) if '--keep-ptx' in args else 90
    data = bytearray(open(src, 'rb').read())
    start, size = section(data, '.nv_fatbin')
    pos, kept, dropped, missing = start, 0, 0, 0
    while pos < start + size:
        magic, _ver, hsize, fsize = struct.unpack_from('<IHHQ', data, pos)
        if magic != MAGIC:
            pos += 8  # containers are 8-byte aligned; padding between them
            continue
        body, end = pos + hsize, pos + hsize + fsize
        entries, e = [], body
        while e < end:
            kind, _ev, ehs, psize = struct.unpack_from('<HHIQ', data, e)
            entries.append((e, ehs + psize, kind, struct.unpack_from('<I', data, e + 28)[0]))
            e += ehs + psize
        keep = [x for x in entries if x[2] == 1 and x[3] == arch]
        if not keep:
            missing += 1  # leave this container as it was
        else:
            e0, n0 = keep[0][0], keep[0][1]
            entry = bytes(data[e0:e0 + n0])
            data[body:end] = b'\0' * (end - body)
            data[body:body + n0] = entry
            struct.pack_into('<Q', data, pos + 8, n0)
            kept += 1
            dropped += len(entries) - 1
        pos = end
    open(dst, 'wb').write(data)
    print(f'{src}: kept compute_{arch} PTX in {kept} containers, dropped {dropped} entries,'
          f' {missing} containers without it left whole')
    if kept == 0:
        sys.exit(1)


if __name__ == '__main__':
    main()
