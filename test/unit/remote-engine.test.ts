// The extension's remote engine client (extension/remote/remote-engine.ts) against a real `frspec serve --http`
// (both dialects), a closed port (one report, backoff instead of a retry per keystroke) and a wrong key.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { RemoteEngine, RemoteError, type RemoteState } from '../../extension/remote/remote-engine';
import { remoteRequest } from '../../extension/remote/remote-request';
import { remoteStatusView } from '../../extension/remote/remote-status';
import { metric, request, type ServedHttp, startHttpServer } from '../../fixtures/http-server';
import { demoModel, requireShared } from '../helpers/shared';

const REQ = { prefix: 'def area(radius):\n', suffix: '\n\ndef perimeter(radius):\n    return 2 * radius\n', chunks: [{ path: 'geo.py', text: 'PI = 3.14159\n' }], maxTokens: 16, stop: [] };

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

describe('remote engine client (extension/remote)', function () {
  this.timeout(120_000);
  let srv: ServedHttp;
  before(async function () {
    requireShared(this);
    srv = await startHttpServer(['--model', demoModel('demo-target')!, '--threads', '1', '--no-calibrate', '--api-key', 'k1']);
  });
  after(async () => { await srv?.close(); });

  it('detects llama.cpp\'s API on our server and completes through /infill with the round-trip time', async () => {
    const states: RemoteState[] = [];
    const remote = new RemoteEngine({ endpoint: srv.url + '/', apiKey: 'k1', clientId: 'window-a', onState: (s) => states.push(s) });
    const info = await remote.probe();
    assert.equal(info.dialect, 'llama.cpp');
    assert.equal(info.model, 'demo-target.gguf');
    assert.equal(info.contextSize, 4096);
    const r = await remote.complete(REQ);
    assert.ok(r && r.text.length > 0);
    assert.ok(r.latencyMs > 0);
    assert.equal(r.server.mode, 'plain');
    assert.ok((r.server.tokens ?? 0) > 0);
    // The same text as the server's /infill for the same fields (the client adds nothing of its own).
    const direct = await request(srv.url, 'POST', '/infill', { input_prefix: REQ.prefix, input_suffix: REQ.suffix, input_extra: [{ filename: 'geo.py', text: 'PI = 3.14159\n' }], n_predict: 16 }, { Authorization: 'Bearer k1' });
    assert.equal(r.text, direct.json.content);
    assert.equal(states.at(-1)?.kind, 'ok');
  });

  it('speaks OpenAI\'s /v1/completions with a suffix (vLLM, SGLang) when told to', async () => {
    const remote = new RemoteEngine({ endpoint: srv.url + '/v1', apiKey: 'k1', clientId: 'window-b', dialect: 'openai', model: 'qwen2.5-coder' });
    assert.equal((await remote.probe()).dialect, 'openai');
    const r = await remote.complete(REQ);
    assert.ok(r);
    const direct = await request(srv.url, 'POST', '/v1/completions', { prompt: REQ.prefix, suffix: REQ.suffix, max_tokens: 16 }, { Authorization: 'Bearer k1' });
    assert.equal(r.text, direct.json.choices[0].text);
    assert.equal(r.server.tokens, direct.json.usage.completion_tokens);
  });

  it('cancelling the request stops the server\'s decoding; a newer request of the window supersedes quietly', async () => {
    const metricsText = async () => (await request(srv.url, 'GET', '/metrics', undefined, { Authorization: 'Bearer k1' })).text;
    const before = metric(await metricsText(), 'frspec_completions_total{outcome="cancelled"}') ?? 0;
    const remote = new RemoteEngine({ endpoint: srv.url, apiKey: 'k1', clientId: 'window-c' });
    await remote.probe();
    const ctrl = new AbortController();
    const p = remote.complete({ ...REQ, maxTokens: 500, signal: ctrl.signal });
    setTimeout(() => ctrl.abort(), 100);
    assert.equal(await p, undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(metric(await metricsText(), 'frspec_completions_total{outcome="cancelled"}'), before + 1);
    const older = remote.complete({ ...REQ, maxTokens: 500 });
    await new Promise((r) => setTimeout(r, 100));
    const newer = remote.complete(REQ);
    assert.equal(await older, undefined, 'superseded (409) is not an error');
    assert.ok((await newer)?.text);
  });

  it('a wrong key is reported once and stops requests', async () => {
    const states: RemoteState[] = [];
    const remote = new RemoteEngine({ endpoint: srv.url, apiKey: 'wrong', clientId: 'w', dialect: 'llama.cpp', onState: (s) => states.push(s) });
    await assert.rejects(remote.complete(REQ), (e: RemoteError) => e.status === 401 && /refused the API key/.test(e.message));
    await assert.rejects(remote.complete(REQ), /refused the API key/);
    assert.deepEqual(states.map((s) => s.kind), ['unauthorized']);
  });
});

describe('remote engine client: an unreachable server', () => {
  it('is reported once and retried only after a backoff, not on every keystroke', async () => {
    const port = await closedPort();
    let attempts = 0;
    const counting: typeof fetch = (input, init) => { attempts++; return fetch(input, init); };
    const states: RemoteState[] = [];
    const remote = new RemoteEngine({ endpoint: `http://127.0.0.1:${port}`, clientId: 'w', dialect: 'llama.cpp', fetch: counting, onState: (s) => states.push(s) });
    await assert.rejects(remote.complete(REQ), /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    for (let i = 0; i < 50; i++) assert.equal(await remote.complete(REQ), undefined, 'keystrokes during the backoff send nothing');
    assert.equal(attempts, 1);
    assert.deepEqual(states.map((s) => s.kind), ['unreachable']);
    await new Promise((r) => setTimeout(r, 1100));
    await assert.rejects(remote.complete(REQ), /ECONNREFUSED/);
    assert.equal(attempts, 2, 'one retry after the first backoff (1 s); the next waits 4 s');
    assert.equal(states.length, 1, 'still one report');
    assert.ok(remote.state?.kind === 'unreachable' && remote.state.retryAt - Date.now() > 3000);
  });

  it('refuses an endpoint that is not a URL', () => {
    assert.throws(() => new RemoteEngine({ endpoint: 'gpu-box:8012', clientId: 'w' }), /must start with http:\/\/ or https:\/\//);
  });
});

describe('remote engine: the editor\'s request and status bar', () => {
  it('sends the local windows and chunks, the multi-line rules as stop strings and the cursor\'s indentation', () => {
    const input = { prefix: 'def f(x):\n    ', suffix: '\n', chunks: [{ path: 'b.py', text: 'B = 1\n' }] };
    assert.deepEqual(remoteRequest(input, { stopAtBlankLine: true }, 48, 150), {
      prefix: input.prefix, suffix: '\n', chunks: input.chunks, maxTokens: 48, stop: ['\n\n'], nIndent: 4, timeBudgetMs: 150,
    });
    assert.deepEqual(remoteRequest({ ...input, prefix: 'x = ' }, { maxLines: 1, stopAtBlankLine: true }, 16, 0).stop, ['\n']);
    assert.equal(remoteRequest({ ...input, prefix: 'x = ' }, {}, 16, 0).nIndent, undefined, 'mid-line: no indentation rule');
    assert.equal(remoteRequest({ ...input, prefix: 'if x:\n\t' }, {}, 16, 0).nIndent, 4, 'a tab counts as 4');
  });

  it('shows the round-trip time, an unreachable server or a refused key', () => {
    assert.equal(remoteStatusView(undefined, 'http://gpu:8012').text, '$(cloud) FR-Spec: remote');
    assert.equal(remoteStatusView({ kind: 'ok', latencyMs: 42.4 }, 'http://gpu:8012').text, '$(cloud) 42 ms');
    const u = remoteStatusView({ kind: 'unreachable', message: 'cannot reach http://gpu:8012: ECONNREFUSED', retryAt: Date.now() + 3500 }, 'http://gpu:8012');
    assert.equal(u.error, true);
    assert.match(u.tooltip, /ECONNREFUSED; retrying in 4 s when you type/);
    assert.equal(remoteStatusView({ kind: 'unauthorized', message: 'refused' }, undefined).text, '$(key) FR-Spec: key refused');
  });
});
