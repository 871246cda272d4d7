// `frspec serve --http` against the exact request shapes llama.vscode and Continue send, through the real CLI,
// engine and demo models; plus the HTTP layer's own pieces (stop rules, key compare, per-client latest-wins).
import * as assert from 'node:assert/strict';
import { ClientQueue } from '../../sidecar/http/client-queue';
import { heldBack, indentCut } from '../../sidecar/http/completion';
import { isLoopback, keyMatches } from '../../sidecar/http/server';
import { LatestWins } from '../../sidecar/scheduler';
import { frspec } from '../helpers/cli';
import { metric, request, type ServedHttp, sseEvents, startHttpServer } from '../../fixtures/http-server';
import { demoModel, requireShared } from '../helpers/shared';

// llama.vscode's completion request, as src/llama-server.ts (createRequestPayload, getFIMCompletion) builds it
// for POST {endpoint}/infill: defaultRequestParams {top_k: 40, top_p: 0.99, stream: false, samplers: [...],
// cache_prompt: true} plus n_indent, t_max_prompt_ms, t_max_predict_ms; input_extra holds the ring-buffer
// chunks {text, time, filename} of src/extra-context.ts (pickChunk). github.com/ggml-org/llama.vscode
const llamaVscodeInfill = (prefix: string, line: string, suffix: string) => ({
  input_prefix: prefix,
  input_suffix: suffix,
  input_extra: [
    { text: 'def sub(a, b):\n    return a - b\n', time: 1765000000000, filename: '/home/dev/proj/ops.py' },
    { text: 'class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n', time: 1765000001000, filename: '/home/dev/proj/geo.py' },
  ],
  prompt: line,
  n_predict: 24,
  top_k: 40, top_p: 0.99, stream: false, samplers: ['top_k', 'top_p', 'infill'], cache_prompt: true,
  n_indent: 4,
  t_max_prompt_ms: 500,
  t_max_predict_ms: 1000,
});
// ...and its ring-buffer warm-up (updateExtraContext → createRequestPayload(noPredict = true)).
const llamaVscodeWarmup = (chunks: unknown[]) => ({
  input_prefix: '', input_suffix: '', input_extra: chunks, prompt: '', n_predict: 0, samplers: [], cache_prompt: true,
  t_max_prompt_ms: 500, t_max_predict_ms: 1,
});

// Continue's "llama.cpp" provider: core/llm/llms/LlamaCpp.ts (_streamComplete) POSTs {apiBase}completion with
// {prompt, stream: true, n_predict, ..., stop, temperature} and `Authorization: Bearer ${apiKey}` (the string
// "Bearer undefined" when no key is set); the prompt is the autocomplete template already rendered,
// core/autocomplete/templating/AutocompleteTemplate.ts qwenCoderFimTemplate with its stop list.
// github.com/continuedev/continue
const QWEN_STOPS = ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>'];
const continueLlamaCpp = (prefix: string, suffix: string) => ({
  prompt: `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>`,
  stream: true, n_predict: 24, stop: QWEN_STOPS, temperature: 0.01,
});
// Continue's "openai" provider for autocomplete: core/llm/llms/OpenAI.ts _legacystreamComplete POSTs
// {apiBase}completions with _convertArgs (model, max_tokens, temperature, top_p, stop, ...) + prompt, stream: true.
const continueOpenAi = (prefix: string, suffix: string) => ({
  model: 'qwen2.5-coder', max_tokens: 24, temperature: 0.01, stop: QWEN_STOPS, stream: true,
  prompt: `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>`,
});

const PREFIX = 'import math\n\n\ndef area(radius):\n';
const LINE = '    return';
const SUFFIX = '\n\n\ndef perimeter(radius):\n    return 2 * math.pi * radius\n';

describe('http: pieces', () => {
  it('binds without a key only on loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.3.2.1', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', '10.0.0.1', 'example.com']) assert.equal(isLoopback(h), false, h);
  });

  it('compares keys whatever their lengths', () => {
    assert.equal(keyMatches('s3cret', 's3cret'), true);
    assert.equal(keyMatches('s3cre', 's3cret'), false);
    assert.equal(keyMatches('', 's3cret'), false);
    assert.equal(keyMatches('s3cret-and-more', 's3cret'), false);
  });

  it('n_indent cuts at the first later line indented less, as llama.cpp does', () => {
    assert.equal(indentCut('x = 1\n    y = 2\n', 4), undefined);
    assert.equal(indentCut('x = 1\n    y = 2\n  z\n', 4), 'x = 1\n    y = 2\n  '.length);
    assert.equal(indentCut('x\n\n    y', 4), undefined, 'empty lines never cut');
    assert.equal(indentCut('x\nz', 0), undefined);
  });

  it('holds back text that may still become a stop string', () => {
    assert.equal(heldBack('abc<|fim', ['<|fim_pad|>']), 5);
    assert.equal(heldBack('abc', ['<|fim_pad|>']), 0);
    assert.equal(heldBack('abc\n', ['\n\n']), 1);
  });

  it('latest-wins per client: the same client supersedes, other clients wait their turn', async () => {
    const q = new ClientQueue(new LatestWins(), 3);
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const job = (name: string, wait?: Promise<void>) => async (signal: AbortSignal) => {
      order.push(`start ${name}`);
      await (wait ?? Promise.resolve());
      if (signal.aborted) throw signal.reason;
      return name;
    };
    const a1 = q.submit('A', job('a1', gate));
    const b1 = q.submit('B', job('b1'));
    const a2 = q.submit('A', job('a2'));  // cancels a1 (running)
    const b2 = q.submit('B', job('b2'));  // supersedes b1 (waiting)
    release();
    await assert.rejects(a1.promise, /superseded/);
    await assert.rejects(b1.promise, /superseded/);
    assert.equal(await b2.promise, 'b2');
    assert.equal(await a2.promise, 'a2');
    // b2 replaced b1 and so queued behind a2: a client that keeps re-sending cannot starve the others.
    assert.deepEqual(order, ['start a1', 'start a2', 'start b2']);
    assert.equal(q.superseded, 2);
    // Bounded: a fourth waiting client is refused at once.
    let hold!: () => void;
    const held = new Promise<void>((r) => { hold = r; });
    const running = q.submit('R', job('r', held));
    const waiting = ['C', 'D', 'E'].map((c) => q.submit(c, job(c)));
    await assert.rejects(q.submit('F', job('f')).promise, /clients are waiting/);
    hold();
    await running.promise;
    await Promise.all(waiting.map((w) => w.promise));
  });
});

describe('http: frspec serve --http with the demo models', function () {
  this.timeout(180_000);
  let srv: ServedHttp;

  before(async function () {
    requireShared(this);
    // No background calibration: it would evaluate its own prompt between requests (and so displace the
    // cached prefix the warm-up test checks); plain decoding needs no measurement.
    srv = await startHttpServer(['--model', demoModel('demo-target')!, '--threads', '1', '--no-calibrate']);
  });
  after(async () => { await srv?.close(); });

  it('serves llama.vscode\'s /infill request (shape of src/llama-server.ts) with llama.cpp\'s response shape', async () => {
    const r = await request(srv.url, 'POST', '/infill', llamaVscodeInfill(PREFIX, LINE, SUFFIX), { Authorization: 'Bearer ' });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(typeof j.content, 'string');
    assert.ok(j.content.length > 0, 'a completion');
    assert.equal(j.stop, true);
    assert.ok(['eos', 'limit', 'word'].includes(j.stop_type));
    assert.ok(j.tokens_predicted > 0 && j.tokens_predicted <= 24);
    assert.ok(j.tokens_cached >= j.tokens_evaluated);
    for (const k of ['prompt_n', 'prompt_ms', 'prompt_per_second', 'predicted_n', 'predicted_ms', 'predicted_per_second']) assert.equal(typeof j.timings[k], 'number', k);
    assert.equal(j.truncated, false);
    // n_indent: 4 — no later line of the completion is indented less than 4 with text on it.
    for (const line of j.content.split('\n').slice(1)) if (line.trim()) assert.ok(/^( {4,}|\t)/.test(line), JSON.stringify(j.content));
    console.log(`      llama.vscode /infill → ${JSON.stringify(j.content)} (${j.stop_type}, ${j.timings.predicted_n} tokens, ${j.frspec.mode})`);
  });

  it('/infill lays out llama.cpp\'s format_infill: same text as /completion given that layout as a template', async () => {
    const body = { input_prefix: PREFIX, input_suffix: SUFFIX, input_extra: [{ filename: 'ops.py', text: 'def sub(a, b):\n    return a - b\n' }], prompt: LINE, n_predict: 16 };
    const a = await request(srv.url, 'POST', '/infill', body);
    const template = `<|repo_name|>myproject\n<|file_sep|>ops.py\ndef sub(a, b):\n    return a - b\n<|file_sep|>filename\n<|fim_prefix|>${PREFIX}${LINE}<|fim_suffix|>${SUFFIX}<|fim_middle|>`;
    const b = await request(srv.url, 'POST', '/completion', { prompt: template, n_predict: 16 });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.json.content, b.json.content);
    assert.equal(a.json.tokens_evaluated, b.json.tokens_evaluated);
  });

  it('treats /infill fields as text: a special-token spelling in the code stays text', async () => {
    const a = await request(srv.url, 'POST', '/infill', { input_prefix: 'x = "<|fim_middle|>"\n', input_suffix: '', n_predict: 1 });
    const b = await request(srv.url, 'POST', '/completion', { prompt: 'x = "<|fim_middle|>"\n', n_predict: 1 });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    // As text the spelling is 7+ tokens; as a template it is one special token.
    assert.ok(a.json.tokens_evaluated >= b.json.tokens_evaluated + 3 + 6, `${a.json.tokens_evaluated} vs ${b.json.tokens_evaluated}`);
  });

  it('llama.vscode\'s warm-up (n_predict 0) caches the prompt, and the next request reuses it', async () => {
    const chunks = [{ text: 'def mul(a, b):\n    return a * b\n'.repeat(8), time: 1, filename: 'mul.py' }];
    const w = await request(srv.url, 'POST', '/infill', llamaVscodeWarmup(chunks));
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json.content, '');
    assert.equal(w.json.tokens_predicted, 0);
    assert.ok(w.json.tokens_cached > 50);
    const body = { ...llamaVscodeInfill('def f():\n', '    return', '\n'), input_extra: chunks };
    const r = await request(srv.url, 'POST', '/infill', body);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.frspec.reused_tokens > 50, `reused ${r.json.frspec.reused_tokens}`);
    assert.ok(r.json.timings.prompt_n < r.json.tokens_evaluated, 'only the new tokens were evaluated');
  });

  it('serves Continue\'s llama.cpp provider (/completion, SSE, "Bearer undefined") in llama.cpp\'s chunk shape', async () => {
    const r = await request(srv.url, 'POST', '/completion', continueLlamaCpp(PREFIX + LINE, SUFFIX), { Authorization: 'Bearer undefined' });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /text\/event-stream/);
    const events = sseEvents(r.text);
    assert.ok(events.length >= 2);
    const last = events[events.length - 1];
    assert.equal(last.stop, true);
    assert.equal(last.content, '');
    for (const e of events.slice(0, -1)) { assert.equal(e.stop, false); assert.equal(typeof e.content, 'string'); }
    const streamed = events.map((e) => e.content).join('');
    const whole = await request(srv.url, 'POST', '/completion', { ...continueLlamaCpp(PREFIX + LINE, SUFFIX), stream: false });
    assert.equal(streamed, whole.json.content, 'streamed chunks add up to the same text');
    for (const s of QWEN_STOPS) assert.ok(!streamed.includes(s));
    console.log(`      Continue llama.cpp /completion → ${JSON.stringify(streamed)} in ${events.length - 1} chunks`);
  });

  it('serves Continue\'s openai provider (/v1/completions, SSE ending in [DONE]) and the suffix form', async () => {
    const r = await request(srv.url, 'POST', '/v1/completions', continueOpenAi(PREFIX + LINE, SUFFIX), { Authorization: 'Bearer undefined', 'api-key': '' });
    assert.equal(r.status, 200, r.text);
    const events = sseEvents(r.text);
    assert.equal(events[events.length - 1], '[DONE]');
    const chunks = events.slice(0, -1);
    for (const c of chunks) { assert.equal(c.object, 'text_completion'); assert.equal(c.choices.length, 1); }
    const final = chunks[chunks.length - 1];
    assert.ok(['stop', 'length'].includes(final.choices[0].finish_reason));
    assert.ok(final.usage.completion_tokens > 0);
    const text = chunks.map((c) => c.choices[0].text).join('');
    // The same completion as OpenAI's prompt + suffix form (the server lays out the FIM tokens).
    const s = await request(srv.url, 'POST', '/v1/completions', { model: 'any', prompt: PREFIX + LINE, suffix: SUFFIX, max_tokens: 24, stop: QWEN_STOPS });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.choices[0].text, text);
    assert.equal(s.json.object, 'text_completion');
    console.log(`      Continue openai /v1/completions → ${JSON.stringify(text)} (${final.choices[0].finish_reason})`);
  });

  it('stop strings end the text (left out) and are never streamed in part', async () => {
    const base = await request(srv.url, 'POST', '/completion', { prompt: PREFIX, n_predict: 24 });
    const text: string = base.json.content;
    assert.ok(text.length > 4, JSON.stringify(text));
    const stop = text.slice(2, 4);
    const r = await request(srv.url, 'POST', '/completion', { prompt: PREFIX, n_predict: 24, stop: [stop], stream: true });
    const events = sseEvents(r.text);
    const last = events[events.length - 1];
    assert.equal(last.stop_type, 'word');
    assert.equal(last.stopping_word, stop);
    assert.equal(events.map((e) => e.content).join(''), text.slice(0, text.indexOf(stop)));
  });

  it('GET /health, /props, /v1/models, /metrics', async () => {
    assert.deepEqual((await request(srv.url, 'GET', '/health')).json, { status: 'ok' });
    const p = (await request(srv.url, 'GET', '/props')).json;
    assert.equal(p.default_generation_settings.n_ctx, 4096);
    assert.equal(p.total_slots, 1);
    assert.equal(p.frspec.decoding.mode, 'plain');
    const m = (await request(srv.url, 'GET', '/v1/models')).json;
    assert.equal(m.object, 'list');
    assert.equal(m.data[0].id, 'demo-target.gguf');
    const metrics = await request(srv.url, 'GET', '/metrics');
    assert.match(String(metrics.headers['content-type']), /text\/plain; version=0\.0\.4/);
    for (const family of ['frspec_http_requests_total', 'frspec_generated_tokens_total', 'frspec_tau', 'frspec_prompt_ms', 'frspec_decode_ms', 'frspec_completions_total']) {
      assert.match(metrics.text, new RegExp(`# TYPE ${family} `), family);
    }
    const generated = (metric(metrics.text, 'frspec_generated_tokens_total{mode="plain"}') ?? 0) + (metric(metrics.text, 'frspec_generated_tokens_total{mode="speculative"}') ?? 0);
    assert.ok(generated > 0);
    assert.ok((metric(metrics.text, 'frspec_http_requests_total{route="/infill",status="200"}') ?? 0) >= 3);
  });

  it('answers every bad request with a JSON error naming the problem', async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['GET', '/nope', undefined, 404, /no such endpoint: \/nope/],
      ['GET', '/infill', undefined, 405, /GET is not allowed on \/infill/],
      ['DELETE', '/health', undefined, 405, /DELETE is not allowed/],
      ['POST', '/infill', '{"input_prefix": ', 400, /not valid JSON/],
      ['POST', '/infill', '', 400, /body is empty/],
      ['POST', '/infill', [1, 2], 400, /must be a JSON object/],
      ['POST', '/infill', { n_predict: 'many' }, 400, /`n_predict` must be an integer/],
      ['POST', '/infill', { input_extra: [{ filename: 'a.py' }] }, 400, /input_extra\[0\]\.text must be a string/],
      ['POST', '/infill', { input_extra: 'x' }, 400, /`input_extra` must be an array/],
      ['POST', '/infill', { temperature: 'hot' }, 400, /`temperature` must be a number/],
      ['POST', '/completion', {}, 400, /`prompt` is required/],
      ['POST', '/completion', { prompt: [1, 2, 1e9] }, 400, /token id 1000000000 is not in the model's vocabulary/],
      ['POST', '/completion', { prompt: 'x'.repeat(60_000) }, 400, /over the limit/],
      ['POST', '/v1/completions', { prompt: ['a', 'b'] }, 400, /one prompt per request/],
      ['POST', '/v1/completions', { prompt: 'a', n: 2 }, 400, /`n` must be an integer from 1 to 1/],
      ['POST', '/v1/completions', { prompt: 'a', stop: [1] }, 400, /`stop` must be a string or an array of strings/],
      ['POST', '/v1/completions', { prompt: 'a', echo: true }, 400, /`echo` is not supported/],
      ['POST', '/completion', 'x'.repeat(3 * 1024 * 1024), 413, /over the limit of 2097152 bytes/],
    ];
    for (const [method, route, body, status, message] of cases) {
      const r = await request(srv.url, method, route, body);
      assert.equal(r.status, status, `${method} ${route} ${String(JSON.stringify(body)).slice(0, 40)}: ${r.text}`);
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.equal(r.json.error.code, status);
      assert.equal(typeof r.json.error.type, 'string');
      assert.match(r.json.error.message, message);
    }
    assert.equal((await request(srv.url, 'GET', '/health')).status, 200, 'still serving');
  });

  it('latest-wins per client: a newer request of the same client cancels the older; other clients are served', async () => {
    const long = { prompt: PREFIX, n_predict: 400, stop: [] };
    const a1 = request(srv.url, 'POST', '/completion', long, { 'X-Client-Id': 'window-1' });
    await new Promise((r) => setTimeout(r, 150));
    const other = request(srv.url, 'POST', '/completion', { prompt: PREFIX, n_predict: 4 }, { 'X-Client-Id': 'window-2' });
    const a2 = request(srv.url, 'POST', '/completion', { prompt: PREFIX, n_predict: 4 }, { 'X-Client-Id': 'window-1' });
    const [r1, r2, r3] = await Promise.all([a1, a2, other]);
    assert.equal(r1.status, 409, r1.text);
    assert.match(r1.json.error.message, /superseded by a newer request from the same client/);
    assert.equal(r2.status, 200);
    assert.equal(r3.status, 200);
    const metrics = (await request(srv.url, 'GET', '/metrics')).text;
    assert.ok((metric(metrics, 'frspec_completions_total{outcome="superseded"}') ?? 0) >= 1);
  });

  it('a client that goes away cancels its completion', async () => {
    const before = metric((await request(srv.url, 'GET', '/metrics')).text, 'frspec_completions_total{outcome="cancelled"}') ?? 0;
    const ctrl = new AbortController();
    const p = request(srv.url, 'POST', '/completion', { prompt: PREFIX, n_predict: 500, stream: true }, { 'X-Client-Id': 'leaver' }, ctrl.signal);
    await new Promise((r) => setTimeout(r, 200));
    ctrl.abort();
    await assert.rejects(p);
    await new Promise((r) => setTimeout(r, 300));
    const after = metric((await request(srv.url, 'GET', '/metrics')).text, 'frspec_completions_total{outcome="cancelled"}') ?? 0;
    assert.equal(after, before + 1);
  });
});

describe('http: API key and binding', function () {
  this.timeout(120_000);

  it('refuses a non-loopback address without --api-key', async () => {
    const saved = process.env.FRSPEC_API_KEY;
    delete process.env.FRSPEC_API_KEY;
    const r = await frspec(['serve', '--http', '--host', '0.0.0.0', '--model', 'x.gguf']);
    if (saved !== undefined) process.env.FRSPEC_API_KEY = saved;
    assert.equal(r.code, 2);
    assert.match(r.err, /refusing to listen on 0\.0\.0\.0 without an API key/);
  });

  it('with --api-key: Bearer KEY is required everywhere but /health', async function () {
    requireShared(this);
    const srv = await startHttpServer(['--model', demoModel('demo-target')!, '--api-key', 'team-key-1', '--threads', '1', '--no-calibrate']);
    try {
      assert.equal((await request(srv.url, 'GET', '/health')).status, 200);
      for (const [headers, why] of [[{}, /missing API key/], [{ Authorization: 'Bearer undefined' }, /invalid API key/], [{ Authorization: 'Bearer team-key-12' }, /invalid API key/], [{ Authorization: 'Basic team-key-1' }, /missing API key/]] as const) {
        const r = await request(srv.url, 'POST', '/infill', llamaVscodeInfill(PREFIX, LINE, SUFFIX), headers as Record<string, string>);
        assert.equal(r.status, 401, r.text);
        assert.equal(r.headers['www-authenticate'], 'Bearer');
        assert.match(r.json.error.message, why);
      }
      assert.equal((await request(srv.url, 'GET', '/metrics')).status, 401);
      const ok = await request(srv.url, 'POST', '/infill', llamaVscodeInfill(PREFIX, LINE, SUFFIX), { Authorization: 'Bearer team-key-1' });
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await srv.close();
    }
  });
});

describe('http: FR-Spec speculative decoding behind the same endpoints', function () {
  this.timeout(240_000);
  let plain: ServedHttp, spec: ServedHttp;

  before(async function () {
    requireShared(this);
    plain = await startHttpServer(['--model', demoModel('demo-target')!, '--threads', '1', '--no-calibrate']);
    spec = await startHttpServer(['--model', demoModel('demo-target')!, '--draft', demoModel('demo-draft')!, '--threads', '1']);
  });
  after(async () => { await plain?.close(); await spec?.close(); });

  it('gives the plain server\'s text for llama.vscode\'s and Continue\'s requests, and /metrics counts τ', async () => {
    // Calibration (plain vs speculative on this machine) runs in the idle time after loading.
    for (let i = 0; i < 120 && !(await request(spec.url, 'GET', '/props')).json.frspec.calibration; i++) await new Promise((r) => setTimeout(r, 500));
    const bodies: Array<[string, unknown]> = [
      ['/infill', { ...llamaVscodeInfill(PREFIX, LINE, SUFFIX), n_predict: 48, n_indent: 0 }],
      ['/completion', { ...continueLlamaCpp(PREFIX + LINE, SUFFIX), stream: false, n_predict: 48 }],
      ['/completion', { prompt: 'def fib(n):\n', n_predict: 48 }],
      ['/v1/completions', { prompt: 'class Stack:\n    def __init__(self):\n', max_tokens: 48 }],
    ];
    const modes = new Set<string>();
    for (const [route, body] of bodies) {
      const a = await request(plain.url, 'POST', route, body);
      const b = await request(spec.url, 'POST', route, body);
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      const text = (r: typeof a) => r.json.content ?? r.json.choices[0].text;
      assert.equal(text(b), text(a), `${route}: speculative output differs from plain`);
      if (b.json.frspec) modes.add(b.json.frspec.mode);
    }
    const props = (await request(spec.url, 'GET', '/props')).json.frspec;
    assert.equal(props.decoding.mode, 'speculative');
    const metrics = (await request(spec.url, 'GET', '/metrics')).text;
    console.log(`      calibration: plain ${props.calibration.plainTokensPerSecond.toFixed(0)} vs speculative ${props.calibration.decoderTokensPerSecond.toFixed(0)} tokens/s (τ ${props.calibration.tau.toFixed(2)}); modes used: ${[...modes].join(', ')}; tau histogram count ${metric(metrics, 'frspec_tau_count')}`);
    if (modes.has('speculative')) assert.ok((metric(metrics, 'frspec_tau_count') ?? 0) > 0);
  });
});
