// Downloading a model file over HTTP(S): redirects followed (the Hugging Face hub answers 302 to its CDN),
// resumed with a Range request into `<dest>.part` after a dropped connection or a cancelled run, the SHA-256
// checked (against a pinned value, or a `<dest>.sha256` file the user put beside it), the GGUF magic checked,
// and only then renamed to `<dest>`: a half or wrong file never has the name the engine is pointed at.
// Pure Node; the base URL is the caller's, so tests serve the same protocol on loopback.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

export interface DownloadOptions {
  url: string;
  dest: string;
  /** Expected SHA-256 (hex). Without it, `<dest>.sha256` (first word) is used when present. */
  sha256?: string;
  /** Called as bytes arrive: total is undefined until the server says it. */
  onProgress?: (received: number, total: number | undefined) => void;
  signal?: AbortSignal;
  /** Tries after a dropped connection that made no progress in between (default 5). */
  retries?: number;
  retryDelayMs?: number;
}

export interface DownloadResult { path: string; bytes: number; sha256: string; verified: 'pinned' | 'sha256 file' | 'none'; resumedFrom: number[] }

const MAX_REDIRECTS = 8;

class HttpError extends Error { constructor(message: string, readonly fatal = true) { super(message); } }

/** GET with redirects; resolves with the final response (2xx or 416), rejects on other statuses. */
function get(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') { reject(new HttpError(`${url}: only http(s) URLs can be downloaded`)); return; }
    const req = (u.protocol === 'https:' ? https : http).get(u, { headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        res.resume();
        const loc = res.headers.location;
        if (!loc) { reject(new HttpError(`${url}: HTTP ${status} without a Location`)); return; }
        if (redirects >= MAX_REDIRECTS) { reject(new HttpError(`${url}: more than ${MAX_REDIRECTS} redirects`)); return; }
        get(new URL(loc, u).toString(), headers, signal, redirects + 1).then(resolve, reject);
        return;
      }
      if ((status >= 200 && status < 300) || status === 416) { resolve(res); return; }
      res.resume();
      reject(new HttpError(`${url}: HTTP ${status}${status === 401 || status === 403 ? ' (the file needs a login or is gated)' : ''}`, status < 500));
    });
    req.on('error', (e) => reject(new HttpError(`${url}: ${e.message}`, signal?.aborted ?? false)));
  });
}

function sizeOf(file: string): number {
  try { return fs.statSync(file).size; } catch { return 0; }
}

/** The total size from `Content-Range: bytes a-b/total` or `bytes *\/total`. */
function totalFromRange(h: string | undefined): number | undefined {
  const m = h ? /\/(\d+)\s*$/.exec(h) : null;
  return m ? Number(m[1]) : undefined;
}

function startFromRange(h: string | undefined): number | undefined {
  const m = h ? /^bytes\s+(\d+)-/.exec(h) : null;
  return m ? Number(m[1]) : undefined;
}

/** One request: appends to the .part file from where it ends. Returns the total size when known. */
async function fetchInto(opts: DownloadOptions, part: string, have: number): Promise<{ total: number | undefined }> {
  const headers: Record<string, string> = { 'user-agent': 'frspec-complete', 'accept-encoding': 'identity' };
  if (have > 0) headers.range = `bytes=${have}-`;
  const res = await get(opts.url, headers, opts.signal);
  const status = res.statusCode ?? 0;
  if (status === 416) {
    res.resume();
    const total = totalFromRange(res.headers['content-range']);
    if (total === have) return { total };  // the .part already holds the whole file
    fs.truncateSync(part, 0);              // the .part is longer than the file (it changed): start over
    throw new HttpError(`${opts.url}: the partial download does not match the file; starting again`, false);
  }
  let offset = have, total: number | undefined;
  if (status === 206) {
    const start = startFromRange(res.headers['content-range']);
    total = totalFromRange(res.headers['content-range']);
    if (start !== have) { res.resume(); fs.truncateSync(part, 0); throw new HttpError(`${opts.url}: the server resumed at ${start}, not ${have}; starting again`, false); }
  } else {
    offset = 0;  // 200: the whole file (no or ignored Range)
    const len = res.headers['content-length'];
    total = len !== undefined ? Number(len) : undefined;
  }
  await new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(part, { flags: offset === 0 ? 'w' : 'r+', start: offset });
    let received = offset;
    let failed = false;
    // Keep what arrived: end (flush) the file rather than destroy it, so the next try resumes after it.
    const fail = (e: Error) => { if (failed) return; failed = true; res.unpipe(out); res.destroy(); out.once('close', () => reject(e)); out.end(); };
    res.on('data', (chunk: Buffer) => { received += chunk.length; opts.onProgress?.(received, total); });
    res.on('aborted', () => fail(new HttpError(`${opts.url}: connection dropped at ${received} bytes`, false)));
    res.on('error', (e) => fail(new HttpError(`${opts.url}: ${e.message}`, opts.signal?.aborted ?? false)));
    out.on('error', (e) => fail(e));
    res.pipe(out);
    out.on('finish', () => { if (!failed) resolve(); });
  });
  const now = sizeOf(part);
  if (total !== undefined && now < total) throw new HttpError(`${opts.url}: connection ended at ${now} of ${total} bytes`, false);
  return { total };
}

async function sha256Of(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function expectedSha(opts: DownloadOptions): { hex?: string; from: DownloadResult['verified'] } {
  if (opts.sha256) return { hex: opts.sha256.toLowerCase(), from: 'pinned' };
  try {
    const word = fs.readFileSync(`${opts.dest}.sha256`, 'utf8').trim().split(/\s+/)[0]?.toLowerCase();
    if (word && /^[0-9a-f]{64}$/.test(word)) return { hex: word, from: 'sha256 file' };
  } catch { /* no file: nothing to compare with */ }
  return { from: 'none' };
}

/** Downloads (or resumes) `url` to `dest`; throws a clear Error and keeps the .part for a later resume. */
export async function downloadModel(opts: DownloadOptions): Promise<DownloadResult> {
  const part = `${opts.dest}.part`;
  const retries = opts.retries ?? 5;
  const resumedFrom: number[] = [];
  let failures = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new Error('download cancelled (the partial file is kept; the next download resumes it)');
    const have = sizeOf(part);
    if (have > 0) resumedFrom.push(have);
    try {
      await fetchInto(opts, part, have);
      break;
    } catch (e) {
      if (opts.signal?.aborted) throw new Error('download cancelled (the partial file is kept; the next download resumes it)');
      const progressed = sizeOf(part) > have;
      failures = progressed ? 1 : failures + 1;
      if ((e instanceof HttpError && e.fatal) || !(e instanceof HttpError) || failures > retries) throw e;
      await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 500));
    }
  }
  const fd = fs.openSync(part, 'r');
  const magic = Buffer.alloc(4);
  try { fs.readSync(fd, magic, 0, 4, 0); } finally { fs.closeSync(fd); }
  if (!magic.equals(Buffer.from('GGUF'))) {
    fs.rmSync(part, { force: true });
    throw new Error(`${opts.url}: the downloaded file is not a GGUF model (starts with ${JSON.stringify(magic.toString('latin1'))}); removed`);
  }
  const sha256 = await sha256Of(part);
  const want = expectedSha(opts);
  if (want.hex && want.hex !== sha256) {
    fs.rmSync(part, { force: true });
    throw new Error(`${opts.url}: SHA-256 ${sha256} does not match the expected ${want.hex} (${want.from}); the download was removed`);
  }
  fs.renameSync(part, opts.dest);
  return { path: opts.dest, bytes: sizeOf(opts.dest), sha256, verified: want.hex ? want.from : 'none', resumedFrom };
}
