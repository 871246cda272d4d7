// A bounded load test of `frspec serve --http` on loopback: 200 concurrent clients (llama.vscode-shaped /infill
// requests, each its own X-Client-Id), with malformed, oversized, slow and abandoning clients and clients that
// supersede themselves mixed in. Nothing is lost (every request that stays connected is answered, each with the
// status its kind calls for) and the server's memory stays flat over repeated rounds.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { metric, request, type ServedHttp, startHttpServer } from '../../fixtures/http-server';
import { demoModel, requireShared } from '../helpers/shared';

const CLIENTS = 200;

/** A raw connection that sends `head` and then nothing more: resolves with the status line the server sends. */
function stall(url: string, head: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname, () => sock.write(head));
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('close', () => resolve(got.split('\r\n')[0]));
    sock.on('error', () => resolve(got.split('\r\n')[0]));
  });
}

// The body of llama.vscode's /infill (see http-server.test.ts for its source), one cursor per client.
const infillBody = (i: number) => ({
  input_prefix: `def handler_${i}(request):\n    data = request.json()\n`, input_suffix: '\n\nreturn None\n',
  input_extra: [{ text: `# helper ${i % 7}\nVALUE = ${i}\n`, time: Date.now(), filename: `util_${i % 7}.py` }],
  prompt: '    result = ', n_predict: 4, top_k: 40, top_p: 0.99, stream: false, samplers: ['top_k', 'top_p', 'infill'],
  cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 1000,
});

interface Tally { [kind: string]: Record<string, number> }

async function round(url: string, roundNo: number): Promise<{ tally: Tally; ms: number }> {
  const tally: Tally = {};
  const count = (kind: string, what: string | number) => {
    tally[kind] ??= {};
    tally[kind][String(what)] = (tally[kind][String(what)] ?? 0) + 1;
  };
  const jobs: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < CLIENTS; i++) {
    jobs.push(request(url, 'POST', '/infill', infillBody(i + roundNo), { 'X-Client-Id': `editor-${i}` })
      .then((r) => count('client', r.status), (e) => count('client', `error ${e.code ?? e.message}`)));
  }
  for (let i = 0; i < 20; i++) {  // malformed: not JSON, wrong types, not an object
    const body = ['{"input_prefix": "x", ', '{"n_predict": "ten"}', '[]', '{"input_extra": [{"filename": 3}]}'][i % 4];
    jobs.push(request(url, 'POST', '/infill', body, { 'X-Client-Id': `bad-${i}` }).then((r) => count('malformed', r.status), (e) => count('malformed', `error ${e.code}`)));
  }
  for (let i = 0; i < 5; i++) {  // oversized bodies
    jobs.push(request(url, 'POST', '/completion', `{"prompt": "${'x'.repeat(2_200_000)}"}`).then((r) => count('oversized', r.status), (e) => count('oversized', `error ${e.code}`)));
  }
  for (let i = 0; i < 10; i++) {  // slow: half the body, then silence; or headers that never end
    const head = i % 2
      ? 'POST /infill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"input_prefix":'
      : 'POST /infill HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    jobs.push(stall(url, head).then((line) => count('slow', line || 'closed without answer')));
  }
  for (let i = 0; i < 10; i++) {  // abandon after 30 ms
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 30);
    jobs.push(request(url, 'POST', '/infill', { ...infillBody(i), n_predict: 64 }, { 'X-Client-Id': `leaver-${i}` }, ctrl.signal)
      .then((r) => count('abandoned', r.status), () => count('abandoned', 'aborted by the client')));
  }
  for (let i = 0; i < 20; i++) {  // one client typing on: the second request supersedes the first
    for (const k of [0, 1]) {
      jobs.push(request(url, 'POST', '/infill', { ...infillBody(i), prompt: `    result = ${k}` }, { 'X-Client-Id': `typist-${i}` })
        .then((r) => count('typist', r.status), (e) => count('typist', `error ${e.code}`)));
    }
  }
  await Promise.all(jobs);
  return { tally, ms: performance.now() - t0 };
}

describe('http: load on loopback (200 concurrent clients, malformed, slow and abandoning ones)', function () {
  this.timeout(300_000);
  let srv: ServedHttp;

  before(async function () {
    requireShared(this);
    srv = await startHttpServer(['--model', demoModel('demo-target')!, '--threads', '1', '--no-calibrate', '--request-timeout-ms', '2000']);
  });
  after(async () => { await srv?.close(); });

  it('answers every request that stays connected, as its kind calls for, with memory flat', async () => {
    const rss = async () => metric((await request(srv.url, 'GET', '/metrics')).text, 'frspec_process_resident_memory_bytes')!;
    const warm = await round(srv.url, 0);  // the first round allocates what every round uses
    const before = await rss();
    const rounds = [];
    const rssAfter: number[] = [];
    for (const n of [1, 2, 3]) { rounds.push(await round(srv.url, n)); rssAfter.push(await rss()); }
    const after = rssAfter[rssAfter.length - 1];
    for (const { tally, ms } of [warm, ...rounds]) {
      console.log(`      round: ${(ms / 1000).toFixed(1)} s ${JSON.stringify(tally)}`);
      assert.deepEqual(tally.client, { 200: CLIENTS }, 'every editor client gets its completion');
      assert.deepEqual(tally.malformed, { 400: 20 });
      assert.deepEqual(tally.oversized, { 413: 5 });
      assert.deepEqual(tally.slow, { 'HTTP/1.1 408 Request Timeout': 10 });
      assert.equal(tally.typist['200'], 20, 'the newer request of each typist is served');
      assert.equal((tally.typist['200'] ?? 0) + (tally.typist['409'] ?? 0), 40, 'the older one is answered 409 or, if it finished first, 200');
      assert.equal(Object.values(tally.abandoned).reduce((a, b) => a + b, 0), 10);
    }
    const metrics = (await request(srv.url, 'GET', '/metrics')).text;
    const served = metric(metrics, 'frspec_completions_total{outcome="completed"}')!;
    console.log(`      server RSS ${(before / 1e6).toFixed(1)} MB after the warm-up round → ${rssAfter.map((x) => (x / 1e6).toFixed(1)).join(' → ')} MB after each of ${rounds.length} more rounds; ${served} completions served; waiting now ${metric(metrics, 'frspec_queue_waiting_clients')}`);
    assert.ok(after - before < 40e6, `RSS grew by ${((after - before) / 1e6).toFixed(1)} MB`);
    assert.equal(metric(metrics, 'frspec_queue_waiting_clients'), 0);
    assert.equal((await request(srv.url, 'GET', '/health')).status, 200, 'still serving');
  });
});
