// The sidecar process through its protocol, with the real demo model: completions equal the engine's own
// greedy output, stream, stop by rules, reuse the previous prompt's KV cache, newest request wins,
// cancellation lands within a step, vocabulary builds report progress, and bad input gets coded errors.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SidecarClient } from '../../extension/client/sidecar-client';
import { rpc } from '../../sidecar/jsonrpc';
import { ErrorCode, type InitializeResult } from '../../sidecar/protocol';
import { sumPositions } from '../../sidecar/stats';
import { Engine } from '../../native/engine';
import { openTokenizer } from '../../native/tokenizer';
import { readVocab } from '../../vocab';
import { demoModel, requireShared } from '../helpers/shared';
import { fim, RawSidecar, startClient } from './sidecar-helpers';

const PREFIX = 'import os\n\n\ndef read_lines(path):\n    """Returns the lines of a text file."""\n    with open(path) as f:\n        ';

async function rejectsWith(p: Promise<unknown>, code: number, re?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof rpc.ResponseError, `expected a JSON-RPC error, got ${(e as Error).message}`);
    assert.equal((e as InstanceType<typeof rpc.ResponseError>).code, code, (e as Error).message);
    if (re) assert.match((e as Error).message, re);
    return e as Error;
  }
  assert.fail(`expected error ${code}`);
}

describe('sidecar (real process, demo model)', function () {
  this.timeout(60000);
  let model: string;
  let client: SidecarClient;
  let init: InitializeResult;

  before(async function () {
    requireShared(this);
    model = demoModel('demo-target')!;
    client = startClient();
    init = await client.initialize({ model, threads: 2, contextSize: 1024, calibrate: false });
  });
  after(async () => { await client?.dispose(); });

  it('describes the model, its special tokens and limits', () => {
    assert.equal(init.model.arch, 'qwen2');
    assert.equal(init.specials.fim_prefix, '<|fim_prefix|>');
    assert.equal(init.specials.file_sep, '<|file_sep|>');
    assert.equal(init.decoding.mode, 'plain');
    assert.equal(init.limits.maxPromptTokens + init.limits.maxTokens, 1024);
  });

  it('completes exactly what the engine decodes greedily, streaming prefixes of it', async () => {
    const partials: string[] = [];
    const r = await client.complete({ parts: fim(PREFIX, '\n'), maxTokens: 12 }, undefined, (t) => partials.push(t));
    const tok = openTokenizer(model);
    const engine = await Engine.load(model, { threads: 1, contextSize: 1024 });
    try {
      const s = tok.specials;
      const ids = [s.fimPre, ...tok.encode(PREFIX), s.fimSuf, ...tok.encode('\n'), s.fimMid];
      const want = await engine.generate(ids, { maxTokens: 12, stopTokens: s.eog });
      assert.equal(r.text, tok.decode(want.tokens));
      assert.equal(r.stats.tokens, want.tokens.length);
      assert.equal(r.stats.promptTokens, ids.length);
    } finally {
      await engine.close();
    }
    assert.ok(partials.length > 0);
    for (const p of partials) assert.ok(r.text.startsWith(p), `partial ${JSON.stringify(p)} is not a prefix of ${JSON.stringify(r.text)}`);
    assert.equal(r.stats.mode, 'plain');
    assert.equal(r.stats.tau, 1);
  });

  it('user text that spells a special token stays text', async () => {
    const a = await client.complete({ parts: ['x = "<|fim_prefix|><|endoftext|>"\n'], maxTokens: 1 });
    const tok = openTokenizer(model);
    assert.equal(a.stats.promptTokens, tok.encode('x = "<|fim_prefix|><|endoftext|>"\n').length);
    assert.ok(a.stats.promptTokens > 4);
  });

  it('reuses the KV cache of the shared prefix', async () => {
    const first = await client.complete({ parts: [PREFIX], maxTokens: 2 });
    const second = await client.complete({ parts: [PREFIX + 'lines'], maxTokens: 2 });
    assert.ok(first.stats.promptTokens > 20);
    assert.ok(second.stats.reusedTokens >= first.stats.promptTokens - 2, `reused ${second.stats.reusedTokens} of ${first.stats.promptTokens}`);
  });

  it('stops by line count, stop sequence and blank line, and leaves the stop text out', async () => {
    const long = await client.complete({ parts: ['def a():\n    return 1\n\n\ndef b():\n'], maxTokens: 40 });
    const oneLine = await client.complete({ parts: ['def a():\n    return 1\n\n\ndef b():\n'], maxTokens: 40, maxLines: 1 });
    if (long.text.includes('\n')) {
      assert.equal(oneLine.stop, 'max_lines');
      assert.equal(oneLine.text, long.text.slice(0, long.text.indexOf('\n')));
    }
    const seq = long.text.trim().slice(0, 3);
    if (seq) {
      const cut = await client.complete({ parts: ['def a():\n    return 1\n\n\ndef b():\n'], maxTokens: 40, stopSequences: [seq] });
      assert.equal(cut.stop, 'stop_sequence');
      assert.equal(cut.text, long.text.slice(0, long.text.indexOf(seq)));
    }
  });

  it('a time budget ends decoding and returns the text so far', async () => {
    const r = await client.complete({ parts: [PREFIX], maxTokens: 250, timeBudgetMs: 80 });
    assert.equal(r.stop, 'time_budget');
    assert.ok(r.stats.tokens < 250);
    assert.ok(r.stats.totalMs < 1500, `took ${r.stats.totalMs} ms`);
    await rejectsWith(client.request('complete', { parts: ['x'], timeBudgetMs: 'soon' }), ErrorCode.InvalidParams, /timeBudgetMs/);
  });

  it('the newest completion wins: the running one is cancelled, the waiting one superseded', async () => {
    const a = client.complete({ parts: [PREFIX], maxTokens: 200 });
    const b = client.complete({ parts: [PREFIX + 'x'], maxTokens: 200 });
    a.catch(() => undefined); b.catch(() => undefined);  // checked below; rejected before we get there
    const c = client.complete({ parts: [PREFIX + 'xy'], maxTokens: 3 });
    await rejectsWith(a, ErrorCode.RequestCancelled, /superseded/);
    await rejectsWith(b, ErrorCode.RequestCancelled, /superseded/);
    const r = await c;
    assert.ok(r.stats.tokens <= 3);
  });

  it('cancellation takes effect within a decoding step', async () => {
    const src = new rpc.CancellationTokenSource();
    let cancelledAt = 0;
    let tokensAtCancel = 0;
    const p = client.complete({ parts: [PREFIX], maxTokens: 250 }, src.token, (text) => {
      if (!cancelledAt && text.length > 0) { cancelledAt = performance.now(); tokensAtCancel = text.length; src.cancel(); }
    });
    await rejectsWith(p, ErrorCode.RequestCancelled, /cancelled by the client/);
    const lag = performance.now() - cancelledAt;
    // A step of the demo model takes milliseconds; 400 tokens would take seconds. Allow a loaded machine.
    assert.ok(cancelledAt > 0 && tokensAtCancel > 0);
    assert.ok(lag < 1500, `cancellation took ${lag.toFixed(0)} ms`);
    // The engine is free again at once.
    const r = await client.complete({ parts: [PREFIX], maxTokens: 2 });
    assert.ok(r.stats.queueMs < 1000, `queued ${r.stats.queueMs} ms behind the cancelled request`);
  });

  it('`cancel` by stream id', async () => {
    const p = client.complete({ parts: [PREFIX], maxTokens: 250, streamId: 'abc' });
    await new Promise((r) => setTimeout(r, 50));
    const c = await client.request<{ cancelled: number }>('cancel', { streamId: 'abc' });
    assert.equal(c.cancelled, 1);
    await rejectsWith(p, ErrorCode.RequestCancelled);
  });

  it('errors carry codes and readable messages', async () => {
    await rejectsWith(client.request('nope', {}), ErrorCode.MethodNotFound);
    await rejectsWith(client.request('complete', { parts: 'text' }), ErrorCode.InvalidParams, /parts/);
    await rejectsWith(client.request('complete', { parts: [{ special: 'im_start' }] }), ErrorCode.InvalidParams, /parts\[0\]/);
    await rejectsWith(client.request('complete', { parts: ['x'], maxTokens: 0 }), ErrorCode.InvalidParams, /maxTokens/);
    await rejectsWith(client.request('complete', { parts: ['x '.repeat(3000)] }), ErrorCode.PromptTooLong, /tokens is over the limit/);
    await rejectsWith(client.request('complete', { parts: ['x'.repeat(1_000_000)] }), ErrorCode.PromptTooLong, /characters is over the limit/);
    await rejectsWith(client.request('vocab/load', { file: model }), ErrorCode.VocabFailed, /not a vocabulary file|over the limit of \d+ bytes for a vocabulary file/);
    await rejectsWith(client.request('vocab/build', { folder: '/nonexistent/dir', out: '/tmp/x.frv' }), ErrorCode.InvalidParams, /`folder` must be an existing folder.*got "\/nonexistent\/dir"/);
    // still serving
    assert.ok((await client.complete({ parts: ['x'], maxTokens: 1 })).stats.promptTokens > 0);
  });

  it('builds the vocabulary of a folder with progress, writes the .frv and uses it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-sidecar-vocab-'));
    try {
      const past = new Date(Date.now() - 60_000);  // files this fresh are counted but not cached (racy mtimes)
      for (let i = 0; i < 30; i++) {
        fs.writeFileSync(path.join(dir, `m${i}.py`), `def f${i}(x):\n    return x * ${i} + len(str(x))\n`.repeat(20));
        fs.utimesSync(path.join(dir, `m${i}.py`), past, past);
      }
      const out = path.join(dir, 'out', 'workspace.frv');
      const progress: number[] = [];
      const r = await client.buildVocab({ folder: dir, out }, undefined, (p) => progress.push(p.fraction));
      assert.equal(r.files, 30, JSON.stringify(r));
      assert.ok(r.loaded);
      assert.ok(progress.length >= 1 && progress[progress.length - 1] === 1);
      const v = readVocab(out, { name: model, tokenizer: openTokenizer(model) });
      assert.equal(v.corpus.files, 30);
      assert.equal(r.tokens, v.corpus.tokens);
      assert.equal(r.coverage.find((c) => c.k === 8192)!.share, 1);
      const stats = await client.stats();
      assert.equal(stats.vocab?.file, out);
      // A second build of the unchanged folder takes every file from the count cache.
      const again = await client.buildVocab({ folder: dir, out });
      assert.equal(again.filesFromCache, 30);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a vocabulary build cancelled by the client stops, writes nothing, and the engine keeps serving', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-sidecar-vocab-cancel-'));
    try {
      // ~54 MB of random identifiers: the tokenizer's piece cache cannot shortcut them (the earlier v<i>_<j>
      // names counted at 68 MB/s, done 0.4 s after start, and a loaded CI machine's cancel arrived too late),
      // so counting takes ~1.5 s on an idle machine, several 200 ms progress intervals, and the cancel below
      // lands while the build is running (a timer raced it).
      let seed = 12345;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
      const word = () => Array.from({ length: 10 }, () => String.fromCharCode(97 + (rand() % 26))).join('');
      for (let i = 0; i < 600; i++) {
        fs.writeFileSync(path.join(dir, `f${i}.ts`), Array.from({ length: 2000 }, () => `export const ${word()}_${word()} = ${rand() % 1000003};\n`).join(''));
      }
      const out = path.join(dir, 'out.frv');
      const src = new rpc.CancellationTokenSource();
      // Cancel at the first progress report that says the build is still under way.
      const p = client.buildVocab({ folder: dir, out }, src.token, (pr) => { if (pr.fraction < 1) src.cancel(); });
      await rejectsWith(p, ErrorCode.RequestCancelled, /cancelled/);
      assert.ok(!fs.existsSync(out));
      assert.ok((await client.complete({ parts: ['x = 1\n'], maxTokens: 1 })).stats.promptTokens > 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('measures plain decoding speed (calibration) and reports statistics', async () => {
    const c = await client.request<{ plainTokensPerSecond: number; tokens: number }>('calibrate', {});
    assert.ok(c.plainTokensPerSecond > 0);
    const s = await client.stats();
    assert.ok(s.calibration && s.speedup! > 0);
    assert.ok(s.requests.completed > 5 && s.requests.cancelled >= 3);
    assert.ok(s.memory.rssBytes > 0);
  });
});

describe('sidecar: malformed input on the wire', function () {
  this.timeout(60000);
  let raw: RawSidecar;
  before(function () { requireShared(this); raw = new RawSidecar(); });
  after(async () => { await raw?.close(); });

  it('answers a body that is not JSON with a parse error, then exits (the framing cannot be trusted; the client restarts it)', async () => {
    const exited = new Promise<number | null>((r) => raw.proc.once('exit', (code) => r(code)));
    raw.writeBody('{"jsonrpc": "2.0", "id": 1, "method": "stats", ');
    const err = await raw.next((m) => m.id === null && m.error);
    assert.equal(err.error.code, ErrorCode.ParseError);
    assert.match(err.error.message, /closing the connection/);
    assert.equal(await exited, 0);
    raw = new RawSidecar();
  });

  it('refuses positional params, requests before initialize, and a missing model file', async () => {
    raw.send({ id: 3, method: 'complete', params: ['a', 'b'] });
    assert.equal((await raw.next((m) => m.id === 3)).error.code, ErrorCode.InvalidParams);
    raw.send({ id: 4, method: 'complete', params: { parts: ['x'] } });
    assert.equal((await raw.next((m) => m.id === 4)).error.code, ErrorCode.NotInitialized);
    raw.send({ id: 5, method: 'initialize', params: { model: '/no/such/model.gguf' } });
    const e = await raw.next((m) => m.id === 5);
    assert.equal(e.error.code, ErrorCode.ModelLoadFailed);
    assert.match(e.error.message, /\/no\/such\/model\.gguf/);
    raw.send({ id: 6, method: 'initialize', params: { model: __filename } });
    const e2 = await raw.next((m) => m.id === 6);
    assert.equal(e2.error.code, ErrorCode.ModelLoadFailed);
    raw.send({ id: 7, method: 'shutdown' });
    assert.equal((await raw.next((m) => m.id === 7)).result, null);
  });

  it('`frspec serve --stdio` serves the same protocol', async () => {
    const cli = new RawSidecar([path.join(__dirname, '..', '..', 'cli', 'frspec.ts'), 'serve', '--stdio']);
    try {
      cli.send({ id: 1, method: 'stats' });
      assert.equal((await cli.next((m) => m.id === 1)).result.decoding.note, 'no model loaded');
    } finally {
      await cli.close();
    }
  });
});

describe('sidecar: speculative decoding (EAGLE head + FR-Spec workspace vocabulary)', function () {
  this.timeout(120000);

  it('gives token for token the plain greedy completion, with τ and a measured speed-up', async function () {
    requireShared(this);
    const model = demoModel('demo-target')!;
    const client = startClient();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-sidecar-spec-'));
    try {
      const init = await client.initialize({ model, eagle: demoModel('demo-eagle')!, threads: 2, contextSize: 1024, topK: 8192, calibrate: false });
      assert.equal(init.decoding.mode, 'speculative');
      const v = await client.buildVocab({ folder: path.join(__dirname, '..', '..', 'vocab'), out: path.join(dir, 'ws.frv') });
      assert.ok(v.loaded && v.topK === 8192);
      const tok = openTokenizer(model);
      const engine = await Engine.load(model, { threads: 1, contextSize: 1024 });
      try {
        let steps = 0, tokens = 0;
        const accepteds: number[][] = [];
        for (const [prefix, suffix] of [[PREFIX, '\n'], ['class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        ', '\n'], ['function add(a: number, b: number): number {\n  return ', '\n}\n']]) {
          const r = await client.complete({ parts: fim(prefix, suffix), maxTokens: 24 });
          const s = tok.specials;
          const want = await engine.generate([s.fimPre, ...tok.encode(prefix), s.fimSuf, ...tok.encode(suffix), s.fimMid], { maxTokens: 24, stopTokens: s.eog });
          assert.equal(r.text, tok.decode(want.tokens), `speculative output differs for ${JSON.stringify(prefix.slice(-30))}`);
          assert.equal(r.stats.mode, 'speculative');
          // Per draft position: the accepted tokens add up to τ's (τ - 1 accepted drafted tokens per step).
          const accepted = r.stats.acceptedAt!.reduce((a, x) => a + x, 0);
          assert.ok(Math.abs(accepted - (r.stats.tau - 1) * r.stats.steps) < 1e-6, `acceptedAt ${r.stats.acceptedAt}, τ ${r.stats.tau}, ${r.stats.steps} steps`);
          assert.ok(r.stats.draftedAt!.every((d, i) => d >= r.stats.acceptedAt![i]));
          accepteds.push(r.stats.acceptedAt!);
          steps += r.stats.steps;
          tokens += r.stats.tokens;
        }
        assert.ok(steps < tokens, `τ ${tokens / steps}: the drafter never got a token accepted`);
        // The statistics add the recent completions' positions up.
        assert.deepEqual((await client.stats()).recent.acceptedAt, sumPositions(accepteds));
        // The first prompt again (as after a keystroke and its undo): the context lookup drafts from the earlier
        // completion (recent-completions.ts), the same text in far fewer steps.
        const first = await client.complete({ parts: fim(PREFIX, '\n'), maxTokens: 24 });
        const again = await client.complete({ parts: fim(PREFIX, '\n'), maxTokens: 24 });
        assert.equal(again.text, first.text);
        assert.ok(again.stats.steps * 2 <= first.stats.steps || again.stats.steps <= 3, `again: ${again.stats.steps} steps, before ${first.stats.steps}`);
      } finally {
        await engine.close();
      }
      const c = await client.request<{ plainTokensPerSecond: number; decoderTokensPerSecond: number; tau: number }>('calibrate', {});
      const stats = await client.stats();
      console.log(`      calibration on this machine: plain ${c.plainTokensPerSecond.toFixed(1)} tokens/s, EAGLE + FR-Spec 8k ${c.decoderTokensPerSecond.toFixed(1)} tokens/s (τ ${c.tau.toFixed(2)}); live speed-up ${stats.speedup?.toFixed(2)}×`);
      assert.ok(c.tau > 1 && stats.speedup! > 0);
      // Initialized with calibrate: false, the configured decoder serves every request (the per-request
      // choice from measured costs: sidecar-latency.test.ts).
      assert.equal(stats.decoding.active, 'speculative');
      assert.equal(stats.decoding.mode, 'speculative');
    } finally {
      await client.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
