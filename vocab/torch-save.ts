// A 1-D int64 tensor in PyTorch's own file format, written without Python: what `torch.save(tensor, f)`
// writes and `torch.load(f, weights_only=True)` reads back (SGLang's --speculative-token-map is such a file).
//
// The format (torch/serialization.py, caffe2/serialize/inline_container.cc): a ZIP archive of STORED
// (uncompressed) records under one folder, each record's data starting on a 64-byte boundary (the local
// header's extra field "FB" pads it, so a reader can mmap tensors):
//   archive/data.pkl    a pickle (protocol 2) that rebuilds the tensor:
//                       torch._utils._rebuild_tensor_v2(storage, 0, (n,), (1,), False, OrderedDict())
//                       where `storage` is a persistent id ('storage', torch.LongStorage, '0', 'cpu', n)
//   archive/byteorder   "little"
//   archive/data/0      the storage: n little-endian int64
//   archive/version     "3\n"
import * as zlib from 'node:zlib';

// ── pickle (protocol 2), only the opcodes this one object needs ───────────────────────────────────────
const OP = {
  PROTO: 0x80, GLOBAL: 0x63, MARK: 0x28, TUPLE: 0x74, TUPLE1: 0x85, EMPTY_TUPLE: 0x29, BINUNICODE: 0x58,
  BININT1: 0x4b, BININT2: 0x4d, BININT: 0x4a, BINPERSID: 0x51, REDUCE: 0x52, NEWFALSE: 0x89, STOP: 0x2e,
} as const;

class Pickler {
  private readonly bytes: number[] = [];
  op(code: number): this { this.bytes.push(code); return this; }
  global(module: string, name: string): this {
    this.op(OP.GLOBAL);
    for (const b of Buffer.from(`${module}\n${name}\n`, 'latin1')) this.bytes.push(b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.op(OP.BINUNICODE).u32(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  int(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`pickle int ${n} out of range`);
    if (n < 0x100) return this.op(OP.BININT1).u8(n);
    if (n < 0x10000) return this.op(OP.BININT2).u8(n & 0xff).u8(n >> 8);
    return this.op(OP.BININT).u32(n);
  }
  private u8(n: number): this { this.bytes.push(n & 0xff); return this; }
  private u32(n: number): this { for (let i = 0; i < 4; i++) this.bytes.push((n >>> (8 * i)) & 0xff); return this; }
  done(): Buffer { return Buffer.from(this.bytes); }
}

/** data.pkl of a 1-D int64 tensor of n elements stored in record "0". */
export function tensorPickle(n: number): Buffer {
  const p = new Pickler();
  p.op(OP.PROTO).op(2);
  p.global('torch._utils', '_rebuild_tensor_v2');
  p.op(OP.MARK);  // the arguments of _rebuild_tensor_v2
  p.op(OP.MARK).str('storage').global('torch', 'LongStorage').str('0').str('cpu').int(n).op(OP.TUPLE).op(OP.BINPERSID);
  p.int(0);                           // storage_offset
  p.int(n).op(OP.TUPLE1);             // size
  p.int(1).op(OP.TUPLE1);             // stride
  p.op(OP.NEWFALSE);                  // requires_grad
  p.global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE).op(OP.REDUCE);  // backward_hooks
  p.op(OP.TUPLE).op(OP.REDUCE).op(OP.STOP);
  return p.done();
}

// ── ZIP (stored entries, data aligned to 64 bytes, as torch's PyTorchStreamWriter writes) ──────────────
const ALIGN = 64;

export interface ZipRecord { name: string; data: Buffer }

export function storedZip(records: ZipRecord[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const crc = zlib.crc32(r.data);
    // Extra field "FB" (id 0x4246) of the length that puts the data on a 64-byte boundary.
    const before = offset + 30 + name.length + 4;
    const pad = (ALIGN - (before % ALIGN)) % ALIGN;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0);
    extra.writeUInt16LE(pad, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);   // local file header signature
    local.writeUInt16LE(20, 4);           // version needed: 2.0
    local.writeUInt16LE(0, 6);            // flags
    local.writeUInt16LE(0, 8);            // method: stored
    local.writeUInt16LE(0, 10);           // time
    local.writeUInt16LE(0x21, 12);        // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(r.data.length, 18);
    local.writeUInt32LE(r.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, name, extra, r.data);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);      // central directory header signature
    cd.writeUInt16LE(20, 4);              // version made by
    cd.writeUInt16LE(20, 6);              // version needed
    cd.writeUInt16LE(0, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(r.data.length, 20);
    cd.writeUInt32LE(r.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(0, 30);              // extra length (the padding lives in the local header only)
    cd.writeUInt16LE(0, 32);              // comment length
    cd.writeUInt16LE(0, 34);              // disk
    cd.writeUInt16LE(0, 36);              // internal attributes
    cd.writeUInt32LE(0, 38);              // external attributes
    cd.writeUInt32LE(offset, 42);         // local header offset
    central.push(cd, name);
    offset += 30 + name.length + extra.length + r.data.length;
  }
  const cdBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0, 4);
  eocd.writeUInt16LE(0, 6);
  eocd.writeUInt16LE(records.length, 8);
  eocd.writeUInt16LE(records.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(0, 20);
  if (offset + cdBytes.length > 0xffffffff) throw new RangeError('archive over 4 GiB (no ZIP64 here)');
  return Buffer.concat([...parts, cdBytes, eocd]);
}

/** The bytes `torch.save(torch.tensor(ids, dtype=torch.int64), f)` would write (same records and layout). */
export function torchSaveInt64(ids: ArrayLike<number>, archive = 'archive'): Buffer {
  const data = Buffer.alloc(8 * ids.length);
  for (let i = 0; i < ids.length; i++) data.writeBigInt64LE(BigInt(ids[i]), 8 * i);
  return storedZip([
    { name: `${archive}/data.pkl`, data: tensorPickle(ids.length) },
    { name: `${archive}/byteorder`, data: Buffer.from('little') },
    { name: `${archive}/data/0`, data },
    { name: `${archive}/version`, data: Buffer.from('3\n') },
  ]);
}
