// The header of a GGUF file (metadata and tensor descriptions) read in pure Node, without the native addon
// and without touching the tensor data: the extension host lists models with it (it never loads the addon,
// which lives in the sidecar). Reads through a small buffer, so a 5 GB model costs a few MB of reads
// (most of them the token list). Written from the GGUF v2/v3 specification.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/** Strings are decoded as UTF-8, except the token list's, kept as raw bytes (Buffer) for the fingerprint. */
export type HeaderValue = string | number | bigint | boolean | Buffer | HeaderValue[];
export interface HeaderTensor { name: string; type: number; elements: number }
export interface GgufHeader { version: number; metadata: Map<string, HeaderValue>; tensors: HeaderTensor[] }

const MAX_STRING = 1 << 24;
const MAX_COUNT = 1 << 26;

class Reader {
  private buf = Buffer.alloc(1 << 16);
  private start = 0;  // file offset of buf[0]
  private end = 0;    // valid bytes in buf
  pos = 0;
  constructor(private readonly fd: number, private readonly file: string, private readonly size: number) {}

  private need(n: number): number {
    if (this.pos + n > this.size) throw new Error(`${this.file}: GGUF header runs past the end of the file at offset ${this.pos}`);
    if (this.pos < this.start || this.pos + n > this.start + this.end) {
      if (n > this.buf.length) this.buf = Buffer.alloc(n);
      this.start = this.pos;
      this.end = fs.readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
      if (this.end < n) throw new Error(`${this.file}: short read at offset ${this.pos}`);
    }
    const at = this.pos - this.start;
    this.pos += n;
    return at;
  }
  u8() { return this.buf.readUInt8(this.need(1)); }
  u32() { return this.buf.readUInt32LE(this.need(4)); }
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.need(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.file}: implausible count ${v} at offset ${this.pos - 8}`);
    return Number(v);
  }
  bytes(n: number): Buffer {
    if (n > MAX_STRING) throw new Error(`${this.file}: string of ${n} bytes at offset ${this.pos}`);
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
  str() { return this.bytes(this.u64()).toString('utf8'); }
  value(type: number, raw = false): HeaderValue {
    switch (type) {
      case 0: return this.u8();
      case 1: return this.buf.readInt8(this.need(1));
      case 2: return this.buf.readUInt16LE(this.need(2));
      case 3: return this.buf.readInt16LE(this.need(2));
      case 4: return this.u32();
      case 5: return this.buf.readInt32LE(this.need(4));
      case 6: return this.buf.readFloatLE(this.need(4));
      case 7: return this.u8() !== 0;
      case 8: return raw ? Buffer.from(this.bytes(this.u64())) : this.str();
      case 10: return this.buf.readBigUInt64LE(this.need(8));
      case 11: return this.buf.readBigInt64LE(this.need(8));
      case 12: return this.buf.readDoubleLE(this.need(8));
      case 9: {
        const elementType = this.u32(), n = this.u64();
        if (n > MAX_COUNT) throw new Error(`${this.file}: array of ${n} elements at offset ${this.pos}`);
        const out: HeaderValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(elementType, raw);
        return out;
      }
      default: throw new Error(`${this.file}: unknown GGUF value type ${type} at offset ${this.pos}`);
    }
  }
}

/** Reads the metadata and tensor descriptions; throws an Error naming the file and the problem. */
export function readGgufHeader(file: string): GgufHeader {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const size = fs.fstatSync(fd).size;
    const r = new Reader(fd, file, size);
    if (r.bytes(4).toString('latin1') !== 'GGUF') throw new Error(`${file}: not a GGUF file`);
    const version = r.u32();
    if (version < 2 || version > 3) throw new Error(`${file}: GGUF version ${version} is not supported (2 or 3)`);
    const nTensors = r.u64(), nKeys = r.u64();
    if (nTensors > MAX_COUNT || nKeys > MAX_COUNT) throw new Error(`${file}: implausible tensor/key counts`);
    const metadata = new Map<string, HeaderValue>();
    for (let i = 0; i < nKeys; i++) { const key = r.str(); metadata.set(key, r.value(r.u32(), key === 'tokenizer.ggml.tokens')); }
    const tensors: HeaderTensor[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = r.str();
      const dims = r.u32();
      if (dims > 8) throw new Error(`${file}: tensor ${name} has ${dims} dimensions`);
      let elements = 1;
      for (let d = 0; d < dims; d++) elements *= r.u64();
      const type = r.u32();
      r.u64();  // data offset: not needed to describe the model
      tensors.push({ name, type, elements });
    }
    return { version, metadata, tensors };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The engine's tokenizer fingerprint (native/src/tokenizer/tokenizer_loader.cpp): SHA-256 of
 * "frspec-tokenizer-v1\n" + tokenizer.ggml.pre + "\n" + each token as u32le length + bytes. Equal fingerprints
 * = identical token ids, the condition for a draft model. undefined when the file has no token list or pre.
 */
export function tokenizerFingerprint(h: GgufHeader): string | undefined {
  const pre = h.metadata.get('tokenizer.ggml.pre'), tokens = h.metadata.get('tokenizer.ggml.tokens');
  if (typeof pre !== 'string' || !Array.isArray(tokens)) return undefined;
  const hash = crypto.createHash('sha256');
  hash.update(`frspec-tokenizer-v1\n${pre}\n`);
  const len = Buffer.alloc(4);
  for (const t of tokens) {
    const b = Buffer.isBuffer(t) ? t : Buffer.from(String(t), 'utf8');
    len.writeUInt32LE(b.length);
    hash.update(len);
    hash.update(b);
  }
  return hash.digest('hex');
}
