// The sidecar against a hostile or buggy client (issue 13, items 1-5 and 8), on the real process: framing
// errors close the connection (the process exits, so the client restarts it) instead of leaving a live,
// mute server; bodies that are not JSON-RPC messages get -32600; every parameter is checked (-32602 naming
// the field and its range); prompt parts are bounded; a FIFO model is refused at once; a model file
// rewritten under the engine's mapping is noticed before the next completion; a request right behind
// `initialize` waits for it; the superseded counter counts each request once.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { DEFAULT_FRAMING_LIMITS, FramedReader } from '../../sidecar/framing';
import { ErrorCode } from '../../sidecar/protocol';
import { demoModel, requireShared } from '../helpers/shared';
import { RawSidecar } from './sidecar-helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-sidecar-hostile-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const exitOf = (raw: RawSidecar) => new Promise<number | null>((r) => {
  if (raw.proc.exitCode !== null) r(raw.proc.exitCode);
  else raw.proc.once('exit', (code) => r(code));
});
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms`)), ms))]);
const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('sidecar: framing (issue 13, item 4)', function () {
  this.timeout(60000);

  it('a frame with a Content-Length too short, then a good request: a parse error, then the process exits', async () => {
    const raw = new RawSidecar();
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'stats' });
      raw.proc.stdin!.write(`Content-Length: ${body.length - 5}\r\n\r\n${body}` + frame(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'stats' })));
      const err = await raw.next((m) => m.id === null && m.error);
      assert.equal(err.error.code, ErrorCode.ParseError);
      assert.equal(await within(exitOf(raw), 5000, 'exit'), 0);
    } finally { await raw.close(); }
  });

  it('a Content-Length too long swallows the next request: once the body is complete it is not JSON, and the process exits', async () => {
    const raw = new RawSidecar();
    try {
      raw.proc.stdin!.write('Content-Length: 120\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"stats"}');
      raw.proc.stdin!.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'stats' })));
      raw.proc.stdin!.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'stats' })));
      assert.equal(await within(exitOf(raw), 5000, 'exit'), 0);
    } finally { await raw.close(); }
  });

  it('a header without a colon, or a Content-Length over the limit: a framing error, then exit', async () => {
    for (const bad of ['Content-Length 10\r\n\r\n{}', 'Content-Length: 99999999999\r\n\r\n{}', 'X: 1\r\n\r\n{}']) {
      const raw = new RawSidecar();
      try {
        raw.proc.stdin!.write(bad);
        const err = await raw.next((m) => m.id === null && m.error);
        assert.match(err.error.message, /framing error/);
        assert.equal(await within(exitOf(raw), 5000, 'exit'), 0);
      } finally { await raw.close(); }
    }
  });

  it('an incomplete frame is a framing error after the stall limit (reader in-process)', async () => {
    const input = new PassThrough();
    const answers: any[] = [];
    const reader = new FramedReader(input, (a) => answers.push(a), { ...DEFAULT_FRAMING_LIMITS, stallMs: 100 });
    let closed = false;
    reader.onClose(() => { closed = true; });
    reader.listen(() => assert.fail('no message expected'));
    input.write('Content-Length: 50\r\n\r\n{"jsonrpc"');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(closed);
    assert.match(answers[0].error.message, /incomplete frame \(10 of 50 body bytes\)/);
  });

  it('bodies null, 42, "x", [], a batch and malformed requests get -32600 answers; the server goes on', async () => {
    const raw = new RawSidecar();
    try {
      for (const body of ['null', '42', '"x"', '[]', 'true']) {
        raw.writeBody(body);
        const e = await within(raw.next((m) => m.id === null && m.error), 5000, body);
        assert.equal(e.error.code, ErrorCode.InvalidRequest, body);
      }
      raw.writeBody(JSON.stringify([{ jsonrpc: '2.0', id: 10, method: 'stats' }, { jsonrpc: '2.0', id: 11, method: 'stats' }]));
      // A batch is answered with an array of errors; RawSidecar keeps the array as one message.
      const batch = await raw.next((m) => Array.isArray(m));
      assert.deepEqual(batch.map((m: any) => [m.id, m.error.code]), [[10, ErrorCode.InvalidRequest], [11, ErrorCode.InvalidRequest]]);
      for (const [msg, id] of [[{ jsonrpc: '1.0', id: 20, method: 'stats' }, 20], [{ jsonrpc: '2.0', id: 21, method: 5 }, 21], [{ jsonrpc: '2.0', id: { a: 1 }, method: 'stats' }, null],
        [{ jsonrpc: '2.0', id: 22, method: 'stats', params: 'x' }, 22], [{ jsonrpc: '2.0', id: null, method: 'stats' }, null], [{ jsonrpc: '2.0', id: 23 }, 23]] as const) {
        raw.writeBody(JSON.stringify(msg));
        const e = await within(raw.next((m) => m.id === id && m.error?.code === ErrorCode.InvalidRequest), 5000, JSON.stringify(msg));
        assert.match(e.error.message, /invalid request/);
      }
      raw.send({ id: 30, method: 'stats' });
      assert.equal((await raw.next((m) => m.id === 30)).result.decoding.mode, 'plain');
    } finally { await raw.close(); }
  });
});

describe('sidecar: parameters and files (issue 13, items 1, 3, 5, 8)', function () {
  this.timeout(120000);
  let raw: RawSidecar;
  let id = 100;
  const ask = async (method: string, params?: unknown, raw_?: string) => {
    const my = ++id;
    if (raw_ !== undefined) raw.writeBody(`{"jsonrpc":"2.0","id":${my},"method":"${method}","params":${raw_}}`);
    else raw.send({ id: my, method, ...(params === undefined ? {} : { params }) });
    return within(raw.next((m) => m.id === my, 60000), 60000, method);
  };
  const refused = async (method: string, params: unknown, field: RegExp, rawBody?: string) => {
    const r = await ask(method, params, rawBody);
    assert.ok(r.error, `${method} ${rawBody ?? JSON.stringify(params).slice(0, 100)} was accepted`);
    assert.equal(r.error.code, ErrorCode.InvalidParams, r.error.message);
    assert.match(r.error.message, field);
  };

  before(function () { requireShared(this); raw = new RawSidecar(); });
  after(async () => { await raw?.close(); });

  it('1. a FIFO or a device as model, draft or vocabulary is refused at once; the sidecar keeps serving', async () => {
    const f = path.join(tmp, 'm.gguf');
    execFileSync('mkfifo', [f]);
    const r = await within(ask('initialize', { model: f }), 10000, 'initialize FIFO');
    assert.equal(r.error.code, ErrorCode.ModelLoadFailed);
    assert.match(r.error.message, /m\.gguf: is a FIFO/);
    const d = await within(ask('initialize', { model: demoModel('demo-target')!, draft: '/dev/zero', calibrate: false }), 10000, 'initialize /dev/zero');
    assert.match(d.error.message, /\/dev\/zero: is a device/);
    assert.ok((await ask('stats', {})).result);
  });

  it('5. initialize: topK 0, threads over the cores, contextSize, calibrate "no", a path with NUL: -32602 naming the field and range', async () => {
    const model = demoModel('demo-target')!;
    await refused('initialize', { model, topK: 0 }, /`topK` must be an integer from 1 to \d+, got 0/);
    await refused('initialize', { model, threads: 1024 }, new RegExp(`\`threads\` must be an integer from 0 to ${os.availableParallelism()}, got 1024`));
    await refused('initialize', { model, contextSize: 131073 }, /`contextSize` must be an integer from 256 to 131072/);
    await refused('initialize', { model, calibrate: 'no' }, /`calibrate` must be true or false, got "no"/);
    await refused('initialize', { model: 42 }, /`model` must be a non-empty string/);
    await refused('initialize', { model: 'a\0b' }, /`model` must be a file path/);
  });

  it('8. a request sent right behind `initialize` waits for it instead of failing with "no model is loaded"', async () => {
    const fresh = new RawSidecar();  // no model loaded yet, whatever the tests before did
    try {
      fresh.proc.stdin!.write(
        frame(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { model: demoModel('demo-target')!, threads: 2, contextSize: 1024, calibrate: false } })) +
        frame(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'complete', params: { parts: ['def add(a, b):\n    return'], maxTokens: 2 } })),
      );
      assert.ok((await fresh.next((m) => m.id === 1)).result, 'initialize');
      const c = await fresh.next((m) => m.id === 2);
      assert.ok(c.result, JSON.stringify(c.error));
      assert.ok(c.result.stats.tokens >= 1);
    } finally { await fresh.close(); }
  });

  it('5. complete: absurd values and special-name tricks get -32602 naming the field', async () => {
    assert.ok((await ask('initialize', { model: demoModel('demo-target')!, threads: 2, contextSize: 1024, calibrate: false })).result);
    const parts = ['x = '];
    await refused('complete', { parts, timeBudgetMs: 3e9 }, /`timeBudgetMs` must be a number of milliseconds from 0 \(none\) to 600000, got 3000000000/);
    await refused('complete', { parts, timeBudgetMs: -1 }, /timeBudgetMs/);
    await refused('complete', { parts, promptBudgetMs: 1e12 }, /`promptBudgetMs` must be a number of milliseconds from 0 \(none\) to 600000/);
    await refused('complete', { parts, maxLines: 0 }, /`maxLines` must be an integer from 1 to 10000, got 0/);
    await refused('complete', { parts, maxLines: '2' }, /`maxLines`.*got "2"/);
    await refused('complete', { parts, stopAtBlankLine: 'yes' }, /`stopAtBlankLine` must be true or false/);
    await refused('complete', { parts, maxTokens: 1e9 }, /`maxTokens` must be an integer from 1 to \d+/);
    await refused('complete', { parts, stopSequences: Array(100).fill('x') }, /`stopSequences` must be an array of at most 16/);
    await refused('complete', { parts, stopSequences: [''] }, /`stopSequences\[0\]`/);
    await refused('complete', { parts, streamId: 7 }, /`streamId`/);
    await refused('complete', { parts, warmup: 'true' }, /`warmup` must be true or false/);
    for (const name of ['toString', 'constructor', 'valueOf', 'hasOwnProperty', '__proto__']) {
      await refused('complete', { parts: [{ special: name }] }, new RegExp(`\`parts\\[0\\]\` must be a string or \\{special: .*got "${name}"`));
    }
    await refused('complete', undefined, /parts\[0\]/, '{"parts":[{"__proto__":"fim_prefix"}]}');
    await refused('complete', undefined, /parts\[0\]/, '{"parts":[{"__proto__":{"special":"fim_prefix"}}]}');
    // still serving
    assert.ok((await ask('complete', { parts: ['x = 1\n'], maxTokens: 1 })).result);
  });

  it('3. 5 million empty parts and parts nested a million deep: -32602 at once, memory bounded', async () => {
    const rss0 = (await ask('stats', {})).result.memory.rssBytes;
    await refused('complete', undefined, /`parts` must be a non-empty array of at most 4096 .* got an array of 5000000/, `{"parts":[${Array(5_000_000).fill('""').join(',')}]}`);
    await refused('complete', undefined, /`parts\[0\]` must be a string or \{special/, `{"parts":[${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}]}`);
    await refused('complete', undefined, /`parts\[0\]`/, `{"parts":[{"special":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}]}`);
    const rss1 = (await ask('stats', {})).result.memory.rssBytes;
    assert.ok(rss1 - rss0 < 400e6, `RSS grew ${((rss1 - rss0) / 1e6).toFixed(0)} MB`);
  });

  it('3/6. vocab/load of /dev/zero and a FIFO, vocab/build into /proc or onto a folder: refused at once, nothing left behind', async () => {
    const fifo = path.join(tmp, 'v.frv');
    execFileSync('mkfifo', [fifo]);
    for (const file of ['/dev/zero', fifo]) {
      const r = await within(ask('vocab/load', { file }), 10000, `vocab/load ${file}`);
      assert.equal(r.error.code, ErrorCode.VocabFailed);
      assert.match(r.error.message, /is a (device|FIFO)/);
    }
    const ws = path.join(tmp, 'ws');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'a.py'), 'x = 1\n');
    await refused('vocab/build', { folder: ws, out: '/proc/1/x/v.frv' }, /`out`: .*refusing to write a vocabulary file under \/proc/);
    await refused('vocab/build', { folder: ws, out: ws }, /`out`: .*is a directory/);
    await refused('vocab/build', { folder: '/proc', out: path.join(tmp, 'p.frv') }, /`folder` must be an existing folder outside \/proc/);
    await refused('vocab/build', { folder: ws, out: path.join(tmp, 'o.frv'), cacheFile: tmp }, /`cacheFile`: .*is a directory/);
    await refused('vocab/load', { file: fifo, topK: 0 }, /`topK` must be an integer from 1/);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), []);
    assert.deepEqual(fs.readdirSync(ws), ['a.py']);
  });

  it('8. the superseded counter counts each superseded request once', async () => {
    const before = (await ask('stats', {})).result.requests;
    const ids: number[] = [];
    let body = '';
    for (let i = 0; i < 30; i++) {
      ids.push(++id);
      body += frame(JSON.stringify({ jsonrpc: '2.0', id, method: 'complete', params: { parts: [`def f${i}(x):\n    return`], maxTokens: 40 } }));
    }
    raw.proc.stdin!.write(body);
    const answers = await Promise.all(ids.map((i) => raw.next((m) => m.id === i)));
    const supersededAnswers = answers.filter((a) => a.error && /superseded/.test(a.error.message)).length;
    const after = (await ask('stats', {})).result.requests;
    assert.ok(supersededAnswers >= 1);
    assert.equal(after.superseded - before.superseded, supersededAnswers);
  });

  it('8. a load error names the file once (not "m.gguf: m.gguf: missing tensor")', async () => {
    const bytes = fs.readFileSync(demoModel('demo-target')!);
    const at = bytes.indexOf('output_norm.weight');
    assert.ok(at > 0);
    bytes.write('X', at + 'output_nor'.length, 'latin1');  // the tensor is now 'output_norX.weight'
    const model = path.join(tmp, 'renamed.gguf');
    fs.writeFileSync(model, bytes);
    const r = await ask('initialize', { model, threads: 2, contextSize: 1024, calibrate: false });
    assert.equal(r.error?.code, ErrorCode.ModelLoadFailed, JSON.stringify(r));
    assert.match(r.error.message, /missing tensor 'output_norm\.weight'/);
    assert.equal(r.error.message.split(model).length - 1, 1, r.error.message);
  });

  it('1. a model file rewritten under the engine (a re-download) is noticed before the next completion: a clear error, no SIGBUS, then reloaded', async () => {
    const model = path.join(tmp, 'target.gguf');
    fs.copyFileSync(demoModel('demo-target')!, model);
    assert.ok((await ask('initialize', { model, threads: 2, contextSize: 1024, calibrate: false })).result);
    assert.ok((await ask('complete', { parts: ['def add(a, b):\n    return'], maxTokens: 4 })).result);
    // Rewritten in place: truncated, then only half written back (the download is still running).
    const full = fs.readFileSync(demoModel('demo-target')!);
    fs.writeFileSync(model, full.subarray(0, full.length >> 1));
    const r = await ask('complete', { parts: ['def add(a, b):\n    return'], maxTokens: 4 });
    assert.equal(r.error?.code, ErrorCode.ModelLoadFailed, JSON.stringify(r));
    assert.match(r.error.message, /target\.gguf changed on disk since it was loaded and cannot be loaded again/);
    assert.equal(raw.proc.exitCode, null, 'the sidecar is alive');
    // The download finishes: the next request loads it again by itself.
    fs.writeFileSync(model, full);
    const ok = await ask('complete', { parts: ['def add(a, b):\n    return'], maxTokens: 4 });
    assert.ok(ok.result, JSON.stringify(ok.error));
  });
});
