// Builds a frequency-ranked vocabulary from a folder or a JSONL corpus: every file that passes the rules
// is tokenized with the target model's tokenizer, its counts kept sparsely in the count cache (reused
// while the file's stamp is unchanged), all counts merged, and the ids ranked with the specials first.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CountCache, type CacheEntry } from './cache';
import { isJsonlCorpus, readJsonlCorpus } from '../common/corpus';
import type { VocabFile } from './format';
import { forcedSpecialIds, rankCounts } from './rank';
import { decodeSource, defaultRules, type FileRules, RULES_VERSION, type SkipReason, skipByName, skipByText } from './rules';
import { addPayload, SparseCounter } from './sparse';
import type { CountingTokenizer } from './tokenizer';
import { readRegularFile } from '../common/safe-fs';
import { walkFolder } from './walk';

export interface BuildProgress {
  files: number;
  /** Known for folders (after the walk); undefined for corpora, which stream. */
  filesTotal?: number;
  /** UTF-8 bytes of the files counted or taken from the cache so far. */
  bytes: number;
  tokens: number;
  /** 0..1: share of the input consumed (folder bytes, or compressed corpus bytes). */
  fraction: number;
}

export interface BuildOptions {
  rules?: Partial<FileRules>;
  /** The count cache file; omitted = no cache (every file is tokenized). */
  cacheFile?: string;
  signal?: AbortSignal;
  /** Called at most every `progressIntervalMs` (default 100) and once at the end. */
  onProgress?: (p: BuildProgress) => void;
  progressIntervalMs?: number;
}

export interface BuildResult {
  vocab: VocabFile;
  /** Dense counts per token id (for coverage of another corpus, and for tests). */
  totals: Float64Array;
  /** Files left out, by reason (walk rules, name rules, content rules). */
  skipped: Record<string, number>;
  /** Files whose counts came from the cache vs. were tokenized in this run. */
  filesFromCache: number;
  filesTokenized: number;
  /** Why an existing cache was not used, if it was not. */
  cacheNote?: string;
}

/** A file's stamp: when it is unchanged, its cached counts are reused. */
const folderStamp = (size: number, mtimeMs: number) => `${size}:${mtimeMs}`;
// A file modified this recently may change again within the file system's timestamp granularity
// without its mtime changing ("racy git"): count it, but do not cache it.
const RACY_MS = 100;
/** The longest the builder keeps the event loop busy before letting other work run. */
const YIELD_MS = 15;

/** Default cache file for an output file: beside it, or in `dir` keyed by source and tokenizer. */
export function defaultCacheFile(outFile: string, source: string, fingerprint: string, dir?: string): string {
  if (!dir) return `${outFile}.cache`;
  const key = createHash('sha256').update(`${path.resolve(source)}\0${fingerprint}`).digest('hex').slice(0, 16);
  return path.join(dir, `vocab-${key}.frcounts`);
}

export async function buildVocab(source: string, tokenizer: CountingTokenizer, options: BuildOptions = {}): Promise<BuildResult> {
  const rules: FileRules = { ...defaultRules, ...options.rules };
  const rulesKey = JSON.stringify({ v: RULES_VERSION, ...rules });
  const cache = options.cacheFile ? CountCache.load(options.cacheFile, tokenizer.fingerprint, rulesKey) : undefined;
  const next = new CountCache(tokenizer.fingerprint, rulesKey);
  const counter = new SparseCounter(tokenizer.vocabSize);
  // The totals start from the cache's sum over all its entries: a reused entry then costs nothing, and
  // the entries not reused (changed, removed or now skipped files) are subtracted at the end.
  const base = cache?.totals?.length === tokenizer.vocabSize ? cache.totals : undefined;
  const totals = base ? Float64Array.from(base) : new Float64Array(tokenizer.vocabSize);
  const notReused = new Set(base ? cache!.entries.keys() : []);
  const countedUncached: CacheEntry[] = [];
  const skipped: Record<string, number> = {};
  const stats = { files: 0, bytes: 0, tokens: 0, fromCache: 0, tokenized: 0 };
  const progress = new Throttle(options);
  const { signal } = options;

  const skipEntry = (stamp: string, skip: SkipReason): CacheEntry => ({ stamp, skip, bytes: 0, tokens: 0, distinct: 0, payload: new Uint8Array(0) });
  const countText = (stamp: string, text: string): CacheEntry => {
    const ids = tokenizer.encode(text);
    const { payload, distinct } = counter.encode(ids);
    stats.tokenized++;
    return { stamp, bytes: Buffer.byteLength(text), tokens: ids.length, distinct, payload };
  };
  /** Adds one file's entry (reused from the cache or fresh) to the totals, statistics and next cache. */
  const use = (key: string, entry: CacheEntry, reused: boolean, cacheable: boolean) => {
    if (reused) stats.fromCache++;
    if (options.cacheFile && cacheable) next.entries.set(key, entry);
    if (entry.skip) skipped[entry.skip] = (skipped[entry.skip] ?? 0) + 1;
    else {
      stats.files++;
      stats.bytes += entry.bytes;
      stats.tokens += entry.tokens;
    }
    if (reused && base) { notReused.delete(key); return; }  // already in the totals
    if (entry.skip) return;
    const tokens = addPayload(entry.payload, totals, `counts of ${key}`);
    if (tokens !== entry.tokens) throw new Error(`counts of ${key}: ${tokens} tokens, expected ${entry.tokens} (delete the count cache)`);
    if (!cacheable) countedUncached.push(entry);
  };

  try {
    if (isJsonlCorpus(source)) {
      let fraction = 0;
      const seen = new Map<string, number>();
      for await (const f of readJsonlCorpus(source, (read, total) => { fraction = read / total; })) {
        throwIfAborted(signal);
        const dup = seen.get(f.path) ?? 0;
        seen.set(f.path, dup + 1);
        const key = dup ? `${f.path}#${dup}` : f.path;  // a path listed twice is two files
        const size = Buffer.byteLength(f.text);
        const stamp = options.cacheFile ? `${size}:${createHash('sha1').update(f.text).digest('hex')}` : '';
        const cached = cache?.lookup(key, stamp);
        let entry = cached;
        if (!entry) {
          const why = size > rules.maxFileBytes ? 'too-large' : skipByName(f.path) ?? skipByText(f.text, rules);
          entry = why ? skipEntry(stamp, why) : countText(stamp, f.text);
        }
        use(key, entry, entry === cached, true);
        await progress.tick({ files: stats.files, bytes: stats.bytes, tokens: stats.tokens, fraction });
      }
    } else {
      const walk = walkFolder(source, rules, signal);
      for (const [reason, n] of Object.entries(walk.skipped)) skipped[reason] = (skipped[reason] ?? 0) + n;
      const bytesTotal = walk.files.reduce((s, f) => s + f.size, 0);
      let bytesSeen = 0;
      for (const f of walk.files) {
        throwIfAborted(signal);
        const stamp = folderStamp(f.size, f.mtimeMs);
        const cached = cache?.lookup(f.rel, stamp);
        let entry = cached;
        let cacheable = true;
        if (!entry) {
          const readAt = Date.now();
          let bytes: Buffer | undefined;
          try { bytes = readRegularFile(f.abs, { maxBytes: rules.maxFileBytes, what: 'source file' }); } catch { /* vanished, replaced by a FIFO, grown or unreadable since the walk */ }
          // Changed since the walk, or so recent that it may change again unseen: count it, don't cache it.
          cacheable = bytes !== undefined && bytes.length === f.size && f.mtimeMs <= readAt - RACY_MS;
          const decoded = bytes ? decodeSource(bytes) : { skip: 'unreadable' as const };
          const why = 'skip' in decoded ? decoded.skip : skipByText(decoded.text, rules);
          entry = why ? skipEntry(stamp, why) : countText(stamp, (decoded as { text: string }).text);
        }
        use(f.rel, entry, entry === cached, cacheable);
        bytesSeen += f.size;
        await progress.tick({ files: stats.files, filesTotal: walk.files.length, bytes: stats.bytes, tokens: stats.tokens, fraction: bytesTotal ? bytesSeen / bytesTotal : 1 });
      }
    }
  } catch (e) {
    // Cancelled (or failed) mid-way: keep what was counted, so the next build resumes from there.
    if (options.cacheFile) {
      for (const [key, entry] of cache!.entries) if (!next.entries.has(key)) next.entries.set(key, entry);
      if (!sameEntries(cache!, next)) next.save(options.cacheFile);
    }
    throw e;
  }
  throwIfAborted(signal);
  for (const key of notReused) {
    const old = cache!.entries.get(key)!;
    if (!old.skip) addPayload(old.payload, totals, `cached counts of ${key}`, -1);
  }
  progress.final({ files: stats.files, bytes: stats.bytes, tokens: stats.tokens, fraction: 1 });

  if (options.cacheFile && (!sameEntries(cache!, next) || !base)) {
    next.totals = Float64Array.from(totals);
    for (const e of countedUncached) addPayload(e.payload, next.totals, 'uncached counts', -1);
    next.save(options.cacheFile);
  }
  const ranked = rankCounts(totals, forcedSpecialIds(tokenizer.specials, tokenizer.vocabSize));
  const vocab: VocabFile = {
    fingerprint: tokenizer.fingerprint, pre: tokenizer.pre, vocabSize: tokenizer.vocabSize, source,
    corpus: { files: stats.files, bytes: stats.bytes, tokens: stats.tokens }, createdAt: Date.now(), ...ranked,
  };
  return { vocab, totals, skipped, filesFromCache: stats.fromCache, filesTokenized: stats.tokenized, cacheNote: cache?.discarded };
}

function sameEntries(a: CountCache, b: CountCache): boolean {
  if (a.entries.size !== b.entries.size) return false;
  for (const [k, e] of b.entries) if (a.entries.get(k) !== e) return false;
  return true;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The build was aborted', 'AbortError');
}

/**
 * Rate-limits progress callbacks, and yields to the event loop every few milliseconds: tokenizing is
 * synchronous, and a host process (the sidecar) must stay responsive and able to receive an abort.
 */
class Throttle {
  private lastProgress = Date.now();
  private lastYield = Date.now();
  constructor(private readonly options: BuildOptions) {}
  async tick(p: BuildProgress): Promise<void> {
    const now = Date.now();
    if (now - this.lastProgress >= (this.options.progressIntervalMs ?? 100)) {
      this.lastProgress = now;
      this.options.onProgress?.(p);
    }
    if (now - this.lastYield >= YIELD_MS || this.lastProgress === now) {
      await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = Date.now();
    }
  }
  final(p: BuildProgress): void {
    this.options.onProgress?.(p);
  }
}
