// The per-file count cache that makes rebuilds incremental: for each file, the stamp it had when counted
// (size + mtime for folders, size + content hash for JSONL corpora) and its sparse counts, or the rule
// that skipped it. A cache belongs to one tokenizer and one set of file rules; any mismatch, or a damaged
// cache file, simply starts an empty cache (it is a disposable speed-up, never a source of truth).
//
// It also keeps the sum of all its counted entries (`totals`), so a rebuild starts from that sum and only
// corrects it for changed, new and removed files: unchanged files cost a stat and a lookup, no decoding.
//
// Binary, little-endian: "FRCOUNTS" u32 version, u32 entries, str fingerprint, str rulesKey, then per
// entry: str path, str stamp, u8 skip code (0 = counted), f64 bytes, f64 tokens, u32 distinct ids, u32 payload
// bytes, payload (see sparse.ts); then u32 n (0 = no totals kept) and f64 totals[n]; finally u32 CRC-32 of
// everything before. str = u32 byte length + UTF-8.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { SkipReason } from './rules';
import { readRegularFile, writeFileAtomic } from '../common/safe-fs';

const MAGIC = 'FRCOUNTS';
/** The largest count cache read (a workspace of ~100k files); a larger file is refused, not loaded. */
const MAX_CACHE_BYTES = 1 << 30;
const VERSION = 2;
const SKIP_CODES: SkipReason[] = ['too-large', 'binary', 'not-utf8', 'minified', 'generated', 'lockfile', 'unreadable'];

export interface CacheEntry {
  stamp: string;
  /** Set when the file was not counted. */
  skip?: SkipReason;
  /** UTF-8 bytes of the counted text (0 when skipped). */
  bytes: number;
  tokens: number;
  distinct: number;
  payload: Uint8Array;
}

export class CountCache {
  readonly entries = new Map<string, CacheEntry>();
  /** Sum of the counts of every counted entry, when known (checked against the entries on load). */
  totals?: Float64Array;
  /** Why an existing cache file was not used (absent, other tokenizer, damaged...), for the build log. */
  discarded?: string;

  constructor(readonly fingerprint: string, readonly rulesKey: string) {}

  /** The entry for `path` if its stamp still matches. */
  lookup(path: string, stamp: string): CacheEntry | undefined {
    const e = this.entries.get(path);
    return e && e.stamp === stamp ? e : undefined;
  }

  static load(file: string, fingerprint: string, rulesKey: string): CountCache {
    const cache = new CountCache(fingerprint, rulesKey);
    if (!fs.existsSync(file)) {
      cache.discarded = 'no cache yet';
      return cache;
    }
    // A FIFO, device or folder, or a huge file, is refused (an error naming it), never read or replaced.
    const buf = readRegularFile(file, { maxBytes: MAX_CACHE_BYTES, what: 'count cache' });
    // A damaged cache is ours to replace; a file that never was a cache (a typo in --cache) is not.
    if (buf.length > 0 && (buf.length < MAGIC.length || buf.toString('latin1', 0, MAGIC.length) !== MAGIC)) {
      throw new Error(`${file}: exists and is not a count cache (no ${MAGIC} header); refusing to overwrite it (choose another cache file, or delete it)`);
    }
    try {
      parseInto(cache, buf);
    } catch (e) {
      cache.entries.clear();
      cache.discarded = `${file}: ${(e as Error).message}; counting from scratch`;
    }
    return cache;
  }

  /** Writes the cache atomically (temp file + rename), so a crash never leaves half a cache. */
  save(file: string): void {
    let size = 8 + 4 + 4 + strBytes(this.fingerprint) + strBytes(this.rulesKey) + 4 + 8 * (this.totals?.length ?? 0) + 4;
    for (const [p, e] of this.entries) size += strBytes(p) + strBytes(e.stamp) + 1 + 8 + 8 + 4 + 4 + e.payload.length;
    const w = new Writer(Buffer.alloc(size));
    w.ascii(MAGIC); w.u32(VERSION); w.u32(this.entries.size); w.str(this.fingerprint); w.str(this.rulesKey);
    for (const [p, e] of this.entries) {
      w.str(p); w.str(e.stamp);
      w.u8(e.skip ? SKIP_CODES.indexOf(e.skip) + 1 : 0);
      w.f64(e.bytes); w.f64(e.tokens); w.u32(e.distinct); w.u32(e.payload.length); w.bytes(e.payload);
    }
    w.u32(this.totals?.length ?? 0);
    if (this.totals) for (const c of this.totals) w.f64(c);
    w.u32(zlib.crc32(w.buf.subarray(0, w.at)));
    writeFileAtomic(file, w.buf, 'count cache');
  }
}

function parseInto(cache: CountCache, buf: Buffer): void {
  if (buf.length < 24 || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error('not a count cache');
  const crc = buf.readUInt32LE(buf.length - 4);
  if (zlib.crc32(buf.subarray(0, buf.length - 4)) !== crc) throw new Error('checksum mismatch (damaged)');
  const r = new Reader(buf.subarray(0, buf.length - 4));
  r.at = 8;
  const version = r.u32();
  if (version !== VERSION) throw new Error(`cache version ${version}, expected ${VERSION}`);
  const n = r.u32();
  const fingerprint = r.str();
  const rulesKey = r.str();
  if (fingerprint !== cache.fingerprint) throw new Error(`cache is for another tokenizer (${fingerprint})`);
  if (rulesKey !== cache.rulesKey) throw new Error('cache was made with other file rules');
  for (let i = 0; i < n; i++) {
    const p = r.str();
    const stamp = r.str();
    const code = r.u8();
    if (code > SKIP_CODES.length) throw new Error(`bad skip code ${code} at byte ${r.at - 1}`);
    const bytes = r.f64();
    const tokens = r.f64();
    const distinct = r.u32();
    const payload = r.bytes(r.u32());
    cache.entries.set(p, { stamp, skip: code ? SKIP_CODES[code - 1] : undefined, bytes, tokens, distinct, payload });
  }
  const nTotals = r.u32();
  if (nTotals > 0) {
    const totals = new Float64Array(nTotals);
    for (let i = 0; i < nTotals; i++) totals[i] = r.f64();
    // The sum must agree with the entries; if not, the totals are dropped and rebuilt from the entries.
    let sum = 0, entryTokens = 0;
    for (const c of totals) sum += c;
    for (const e of cache.entries.values()) entryTokens += e.tokens;
    if (sum === entryTokens) cache.totals = totals;
  }
  if (r.at !== r.buf.length) throw new Error(`${r.buf.length - r.at} unexpected bytes after the last entry`);
}

const strBytes = (s: string) => 4 + Buffer.byteLength(s);

class Writer {
  at = 0;
  constructor(readonly buf: Buffer) {}
  ascii(s: string) { this.at += this.buf.write(s, this.at, 'latin1'); }
  u8(v: number) { this.buf[this.at++] = v; }
  u32(v: number) { this.buf.writeUInt32LE(v, this.at); this.at += 4; }
  f64(v: number) { this.buf.writeDoubleLE(v, this.at); this.at += 8; }
  str(s: string) { const n = this.buf.write(s, this.at + 4, 'utf8'); this.u32(n); this.at += n; }
  bytes(b: Uint8Array) { this.buf.set(b, this.at); this.at += b.length; }
}

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  private need(n: number) { if (this.at + n > this.buf.length) throw new Error(`truncated at byte ${this.at}`); }
  u8() { this.need(1); return this.buf[this.at++]; }
  u32() { this.need(4); const v = this.buf.readUInt32LE(this.at); this.at += 4; return v; }
  f64() { this.need(8); const v = this.buf.readDoubleLE(this.at); this.at += 8; return v; }
  // Plain Uint8Array views: much cheaper than Buffer.subarray for tens of thousands of payloads.
  bytes(n: number) { this.need(n); const b = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.at, n); this.at += n; return b; }
  str() { const n = this.u32(); this.need(n); const s = this.buf.toString('utf8', this.at, this.at + n); this.at += n; return s; }
}
