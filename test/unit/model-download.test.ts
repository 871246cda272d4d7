// The model downloader against a server on 127.0.0.1 that behaves like the Hugging Face hub: /<repo>/resolve/main/<file>
// answers 302 to a CDN path, which serves Range requests (206, Content-Range; 416 past the end) and, when told,
// drops the connection in the middle of the body. A real GGUF written here is the file. Nothing leaves the machine.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadModel } from '../../common/download';
import { downloadUrl, RECOMMENDED, recommendationsFor } from '../../common/recommended-models';
import { buildFixture } from '../../fixtures/random-model';
import { buildGguf } from '../../fixtures/gguf-writer';

interface Served { base: string; requests: Array<{ path: string; range?: string }>; dropAfter: number[]; ignoreRange: boolean; close(): Promise<void> }

function serve(files: Record<string, Buffer>): Promise<Served> {
  const state = { requests: [] as Served['requests'], dropAfter: [] as number[], ignoreRange: false };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    state.requests.push({ path: url.pathname, range: req.headers.range });
    const hub = /^\/(.+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    if (hub) {  // the hub: a redirect to its CDN, absolute and with a signed query, as huggingface.co does
      res.writeHead(302, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdn/${hub[2]}?X-Amz-Signature=abc` }).end();
      return;
    }
    const name = decodeURIComponent(url.pathname.replace(/^\/cdn\//, ''));
    const body = url.pathname.startsWith('/cdn/') ? files[name] : undefined;
    if (!body) { res.writeHead(404).end('Entry not found'); return; }
    let start = 0;
    const m = state.ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (start >= body.length) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end(); return; }
      res.writeHead(206, { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
    }
    const drop = state.dropAfter.shift();
    if (drop !== undefined) {
      // Send `drop` bytes, then cut the connection as a flaky network would.
      res.write(body.subarray(start, start + drop), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(body.subarray(start));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const served: Served = {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      get requests() { return state.requests; },
      get dropAfter() { return state.dropAfter; },
      get ignoreRange() { return state.ignoreRange; },
      set ignoreRange(v: boolean) { state.ignoreRange = v; },
      close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    } as Served;
    resolve(served);
  }));
}

describe('model download: redirects, resume, SHA-256 (local hub on 127.0.0.1)', function () {
  this.timeout(60000);
  let dir: string, srv: Served, model: Buffer, sha: string;
  const file = { repo: 'Qwen/Qwen2.5-Coder-0.5B-GGUF', file: 'qwen2.5-coder-0.5b-q4_k_m.gguf', label: 'test', approxBytes: 0, parameters: 0 };
  before(async () => {
    model = buildGguf(buildFixture({ arch: 'qwen2', type: 'Q4_K_M', tied: true, d: 256, ff: 512, vocab: 1024, layers: 2, seed: 5 }));
    sha = crypto.createHash('sha256').update(model).digest('hex');
    srv = await serve({ [file.file]: model, 'not-a-model.gguf': Buffer.alloc(4096, 0x41) });
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-download-'));
    srv.requests.length = 0;
    srv.dropAfter.length = 0;
    srv.ignoreRange = false;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  after(() => srv.close());

  it('follows the hub redirect, resumes after a dropped connection with a Range request, and checks the pinned SHA-256', async () => {
    assert.ok(model.length > 100_000, `fixture is ${model.length} bytes`);
    const dest = path.join(dir, file.file);
    const half = Math.floor(model.length / 2);
    srv.dropAfter.push(half);
    const seen: number[] = [];
    const r = await downloadModel({ url: downloadUrl(file, srv.base), dest, sha256: sha, retryDelayMs: 10, onProgress: (got) => seen.push(got) });
    assert.ok(fs.readFileSync(dest).equals(model));
    assert.equal(r.sha256, sha);
    assert.equal(r.verified, 'pinned');
    assert.ok(!fs.existsSync(`${dest}.part`));
    // Request 1: hub, 2: CDN (cut), 3: hub again with the Range, 4: CDN 206 from where the .part ended.
    assert.deepEqual(srv.requests.map((q) => q.path), [`/${file.repo}/resolve/main/${file.file}`, `/cdn/${file.file}`, `/${file.repo}/resolve/main/${file.file}`, `/cdn/${file.file}`]);
    assert.equal(r.resumedFrom.length, 1);
    assert.ok(r.resumedFrom[0] > 0 && r.resumedFrom[0] <= half, `resumed at ${r.resumedFrom[0]} of ${half} sent`);
    assert.equal(srv.requests[3].range, `bytes=${r.resumedFrom[0]}-`);
    assert.equal(seen.at(-1), model.length);
  });

  it('survives several drops in a row and gives up with a clear error after too many without progress', async () => {
    const dest = path.join(dir, file.file);
    srv.dropAfter.push(1000, 2000, 3000);
    const r = await downloadModel({ url: downloadUrl(file, srv.base), dest, retryDelayMs: 10 });
    assert.ok(fs.readFileSync(dest).equals(model));
    assert.equal(r.resumedFrom.length, 3);
    assert.equal(r.verified, 'none');
    fs.rmSync(dest);
    srv.dropAfter.push(...Array(10).fill(0));  // the connection drops before any byte, every time
    await assert.rejects(downloadModel({ url: downloadUrl(file, srv.base), dest, retries: 2, retryDelayMs: 10 }), /connection (dropped|ended)|socket hang up|ECONNRESET|aborted/);
    assert.ok(!fs.existsSync(dest));
  });

  it('resumes a .part left by a cancelled run, and restarts when the server ignores the Range', async () => {
    const dest = path.join(dir, file.file);
    fs.writeFileSync(`${dest}.part`, model.subarray(0, 5000));
    await downloadModel({ url: downloadUrl(file, srv.base), dest, sha256: sha });
    assert.equal(srv.requests[1].range, 'bytes=5000-');
    assert.ok(fs.readFileSync(dest).equals(model));
    fs.rmSync(dest);
    fs.writeFileSync(`${dest}.part`, Buffer.alloc(5000, 0x7a));  // garbage: the 200 answer must overwrite it
    srv.ignoreRange = true;
    await downloadModel({ url: downloadUrl(file, srv.base), dest, sha256: sha });
    assert.ok(fs.readFileSync(dest).equals(model));
    // A complete .part (the rename was interrupted): 416 says so, nothing is downloaded again.
    fs.rmSync(dest);
    srv.ignoreRange = false;
    fs.writeFileSync(`${dest}.part`, model);
    srv.requests.length = 0;
    await downloadModel({ url: downloadUrl(file, srv.base), dest, sha256: sha });
    assert.ok(fs.readFileSync(dest).equals(model));
    assert.equal(srv.requests.length, 2);
  });

  it('refuses a file whose SHA-256 differs (pinned or from a .sha256 file beside it) and keeps nothing', async () => {
    const dest = path.join(dir, file.file);
    await assert.rejects(downloadModel({ url: downloadUrl(file, srv.base), dest, sha256: '0'.repeat(64) }), /SHA-256 [0-9a-f]{64} does not match the expected 0{64} \(pinned\); the download was removed/);
    assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
    fs.writeFileSync(`${dest}.sha256`, `${'1'.repeat(64)}  ${file.file}\n`);
    await assert.rejects(downloadModel({ url: downloadUrl(file, srv.base), dest }), /\(sha256 file\)/);
    fs.writeFileSync(`${dest}.sha256`, `${sha}  ${file.file}\n`);
    const r = await downloadModel({ url: downloadUrl(file, srv.base), dest });
    assert.equal(r.verified, 'sha256 file');
  });

  it('says what went wrong: 404, not a GGUF, cancelled (the .part is kept for the next try)', async () => {
    const dest = path.join(dir, 'x.gguf');
    await assert.rejects(downloadModel({ url: `${srv.base}/cdn/missing.gguf`, dest }), /missing\.gguf: HTTP 404/);
    await assert.rejects(downloadModel({ url: `${srv.base}/cdn/not-a-model.gguf`, dest }), /not a GGUF model .*removed/);
    assert.ok(!fs.existsSync(`${dest}.part`));
    const abort = new AbortController();
    srv.dropAfter.push(50_000);  // the server stalls after 50 kB (then drops); the user cancels meanwhile
    const p = downloadModel({ url: downloadUrl(file, srv.base), dest, signal: abort.signal, retryDelayMs: 10, onProgress: (got) => { if (got >= 20_000) abort.abort(); } });
    await assert.rejects(p, /cancelled \(the partial file is kept/);
    assert.ok(fs.statSync(`${dest}.part`).size > 0);
    assert.ok(!fs.existsSync(dest));
    await assert.rejects(downloadModel({ url: 'file:///etc/passwd', dest }), /only http\(s\) URLs/);
  });

  it('builds the hub URL and offers what fits the memory', () => {
    assert.equal(downloadUrl(RECOMMENDED[0].target), 'https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-GGUF/resolve/main/qwen2.5-coder-1.5b-q4_k_m.gguf');
    assert.equal(downloadUrl(file, 'http://127.0.0.1:9/'), 'http://127.0.0.1:9/Qwen/Qwen2.5-Coder-0.5B-GGUF/resolve/main/qwen2.5-coder-0.5b-q4_k_m.gguf');
    assert.deepEqual(recommendationsFor(2e9), []);
    assert.deepEqual(recommendationsFor(8e9).map((r) => r.target.label), ['Qwen2.5-Coder 1.5B Q4_K_M']);
    assert.deepEqual(recommendationsFor(24e9).map((r) => r.target.label), ['Qwen2.5-Coder 7B Q4_K_M', 'Qwen2.5-Coder 1.5B Q4_K_M']);
    for (const r of RECOMMENDED) assert.ok(r.draft && r.draft.parameters * 3 <= r.target.parameters, 'the draft has at most a third of the parameters');
  });
});
