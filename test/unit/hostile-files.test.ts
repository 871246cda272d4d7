// Hostile and unlucky files (issue 13, items 1, 3, 6 and 8): a FIFO, a device, a folder or a link into /proc
// given as a model, vocabulary, corpus, prompt or workspace file is refused at once with a message naming
// it (nothing waits forever, nothing reads without bound); output paths under /proc or naming a folder fail
// before any work and leave no temporary file; a foreign file is not overwritten as a count cache; a file
// name that is not UTF-8 is still counted; overlapping tensors and a NUL in the architecture are refused
// with a whole message. The commands run as child processes with a deadline, so a hang fails the test.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { estimateMemory } from '../../native/engine';
import { openGguf } from '../../native/gguf';
import { openTokenizer } from '../../native/tokenizer';
import { buildVocab } from '../../vocab/build';
import { CountCache } from '../../vocab/cache';
import { readVocab } from '../../vocab/format';
import { walkFolder } from '../../vocab/walk';
import { buildGguf, f32Bytes, GGML_TYPE_IDS } from '../../fixtures/gguf-writer';
import { demoModel, repoRoot, requireShared } from '../helpers/shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-hostile-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CLI = path.join(repoRoot, 'cli', 'frspec.ts');

interface Run { code: number | null; signal: string | null; out: string; err: string; ms: number; timedOut: boolean }

/** Runs `frspec ARGS` in a child process; kills it (and reports timedOut) after `timeoutMs`. */
function frspecChild(args: string[], opts: { timeoutMs?: number; onStart?: (p: ReturnType<typeof spawn>) => void; onErr?: (s: string, p: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', timedOut = false;
    p.stdout!.on('data', (d) => { out += d; });
    p.stderr!.on('data', (d) => { err += d; opts.onErr?.(err, p); });
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, opts.timeoutMs ?? 30000);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err, ms: Date.now() - t0, timedOut }); });
    opts.onStart?.(p);
  });
}

const fifo = (name: string) => { const f = path.join(tmp, name); execFileSync('mkfifo', [f]); return f; };

describe('hostile files (issue 13)', function () {
  this.timeout(120000);

  it('1. a FIFO, a device or a folder as model is refused at once, naming the path (inspect, tokenize, openGguf)', async () => {
    const f = fifo('m.gguf');
    const inspect = await frspecChild(['inspect', f], { timeoutMs: 20000 });
    assert.equal(inspect.timedOut, false, 'frspec inspect FIFO must not hang');
    assert.equal(inspect.code, 1);
    assert.match(inspect.err, /m\.gguf: is a FIFO \(named pipe\), not a regular file \(expected a GGUF file\)/);
    const tokenize = await frspecChild(['tokenize', '--model', f, '--text', 'x'], { timeoutMs: 20000 });
    assert.equal(tokenize.timedOut, false, 'frspec tokenize --model FIFO must not hang');
    assert.match(tokenize.err, /FIFO/);
    assert.throws(() => openGguf('/dev/zero'), /\/dev\/zero: is a device, not a regular file \(expected a GGUF file\)/);
    assert.throws(() => openGguf(tmp), /is a directory, not a regular file \(expected a GGUF file\)/);
    assert.throws(() => openTokenizer('/dev/null'), /\/dev\/null: is a device/);
  });

  it('1. a FIFO as prompt file or corpus is refused at once', async () => {
    requireShared(this.ctx!);
    const model = demoModel('demo-target')!;
    const prompt = await frspecChild(['generate', '--model', model, '--prompt-file', fifo('p.txt'), '-n', '1'], { timeoutMs: 30000 });
    assert.equal(prompt.timedOut, false, 'a FIFO prompt file must not hang');
    assert.match(prompt.err, /p\.txt: is a FIFO/);
    const corpus = await frspecChild(['vocab', 'build', '--model', model, '--out', path.join(tmp, 'c.frv'), fifo('c.jsonl')], { timeoutMs: 30000 });
    assert.equal(corpus.timedOut, false, 'a FIFO corpus must not hang');
    assert.match(corpus.err, /c\.jsonl: is a FIFO/);
  });

  it('1. a workspace with a FIFO .gitignore, a FIFO, and links to /proc/kmsg and into /proc: all skipped, the build finishes', async () => {
    requireShared(this.ctx!);
    const ws = path.join(tmp, 'ws-special');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'a.py'), 'def f(x):\n    return x + 1\n');
    execFileSync('mkfifo', [path.join(ws, '.gitignore'), path.join(ws, 'pipe.py')]);
    fs.symlinkSync('/proc/kmsg', path.join(ws, 'k.py'));
    fs.symlinkSync('/proc/self', path.join(ws, 'self'));
    fs.symlinkSync('/dev/zero', path.join(ws, 'zero.py'));
    const walked = walkFolder(ws);
    assert.deepEqual(walked.files.map((f) => f.rel), ['a.py']);
    assert.equal(walked.skipped['special-file'], 5);  // .gitignore, pipe.py, k.py, self, zero.py
    const r = await frspecChild(['vocab', 'build', '--model', demoModel('demo-target')!, '--out', path.join(tmp, 'ws.frv'), '--json', ws], { timeoutMs: 60000 });
    assert.equal(r.timedOut, false, 'the build must not hang on /proc/kmsg or a FIFO');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).files, 1);
  });

  it('1. Ctrl-C during a vocabulary build ends it promptly with the counts kept', async () => {
    requireShared(this.ctx!);
    const ws = path.join(tmp, 'ws-big');
    fs.mkdirSync(ws);
    const body = Array.from({ length: 250 }, (_, i) => `def function_${i}(value, other):\n    return value * ${i} + other  # line ${i}\n`).join('');
    for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(ws, `m${i}.py`), `# module ${i}\n${body}`);
    // SIGINT must land while counting: before the handler is installed it kills the process by default, so
    // the delay grows until it lands in the build (or the build finishes first: nothing to interrupt).
    for (const delayMs of [2000, 3000, 4500]) {
      let sent = 0;
      const r = await frspecChild(['vocab', 'build', '--model', demoModel('demo-target')!, '--out', path.join(tmp, 'big.frv'), ws], {
        timeoutMs: 90000,
        onStart: (p) => { setTimeout(() => { sent = Date.now(); p.kill('SIGINT'); }, delayMs); },
      });
      assert.equal(r.timedOut, false);
      if (r.signal === 'SIGINT') continue;  // too early: still loading
      if (r.code === 0) return;  // a fast machine finished first
      assert.ok(Date.now() - sent < 10000, `exited ${Date.now() - sent} ms after SIGINT`);
      assert.match(r.err, /interrupted/);
      assert.ok(fs.existsSync(path.join(tmp, 'big.frv.cache')), 'the counts so far are kept in the cache');
      return;
    }
    assert.fail('SIGINT never landed during the build');
  });

  it('1. a file replaced by a FIFO after the walk is skipped as unreadable, not waited on', async () => {
    const ws = path.join(tmp, 'ws-race');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'a.py'), 'x = 1\n');
    fs.writeFileSync(path.join(ws, 'b.py'), 'y = 2\n');
    // A tokenizer stand-in that swaps b.py for a FIFO while a.py is being counted.
    const tokenizer = {
      fingerprint: 'f', pre: 'p', vocabSize: 256, specials: { eog: [] as number[] } as never,
      encode: (t: string) => { const f = path.join(ws, 'b.py'); if (fs.statSync(f).isFile()) { fs.rmSync(f); execFileSync('mkfifo', [f]); } return Int32Array.from(Buffer.from(t)); },
    };
    const r = await Promise.race([buildVocab(ws, tokenizer as never), new Promise<'hang'>((res) => setTimeout(() => res('hang'), 10000))]);
    assert.notEqual(r, 'hang');
    assert.equal((r as { skipped: Record<string, number> }).skipped.unreadable, 1);
  });

  it('3. vocab stats of /dev/zero, a FIFO, a folder and a huge file are refused by type or size, with bounded memory', async () => {
    for (const [file, why] of [['/dev/zero', /is a device/], [fifo('v.frv'), /is a FIFO/], [tmp, /is a directory/]] as const) {
      const r = await frspecChild(['vocab', 'stats', file], { timeoutMs: 20000 });
      assert.equal(r.timedOut, false, `vocab stats ${file} must not hang or grow`);
      assert.equal(r.code, 1);
      assert.match(r.err, why);
    }
    const huge = path.join(tmp, 'huge.frv');
    fs.writeFileSync(huge, '');
    fs.truncateSync(huge, 3 * 2 ** 30);  // sparse: 3 GB that cost nothing on disk
    assert.throws(() => readVocab(huge), /over the limit of \d+ bytes for a vocabulary file/);
  });

  it('6. --cache and out under /proc, out naming a folder: clear errors at once, no spinning, no temporary file left', async () => {
    requireShared(this.ctx!);
    const model = demoModel('demo-target')!;
    const ws = path.join(tmp, 'ws-small');
    fs.mkdirSync(ws, { recursive: true });
    fs.writeFileSync(path.join(ws, 'a.py'), 'x = 1\n');
    const proc = await frspecChild(['vocab', 'build', '--model', model, '--out', path.join(tmp, 'p.frv'), '--cache', '/proc/1/x', ws], { timeoutMs: 20000 });
    assert.equal(proc.timedOut, false, '--cache /proc/1/x must not spin');
    assert.match(proc.err, /\/proc\/1\/x: refusing to write under \/proc/);
    const outDir = path.join(tmp, 'outdir');
    fs.mkdirSync(outDir);
    const dir = await frspecChild(['vocab', 'build', '--model', model, '--out', outDir, ws], { timeoutMs: 20000 });
    assert.equal(dir.code, 1);
    assert.match(dir.err, /outdir: is a directory, not a regular file/);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), []);
    assert.deepEqual(fs.readdirSync(outDir), []);
  });

  it('6. an existing file that is not a count cache is refused as cacheFile, not overwritten', async () => {
    const notes = path.join(tmp, 'notes.txt');
    fs.writeFileSync(notes, 'my notes\n');
    assert.throws(() => CountCache.load(notes, 'f', 'r'), /notes\.txt: exists and is not a count cache/);
    const ws = path.join(tmp, 'ws-cache');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'a.py'), 'x = 1\n');
    const tokenizer = { fingerprint: 'f', pre: 'p', vocabSize: 256, specials: { eog: [] } as never, encode: (t: string) => Int32Array.from(Buffer.from(t)) };
    await assert.rejects(buildVocab(ws, tokenizer as never, { cacheFile: notes }), /not a count cache/);
    assert.equal(fs.readFileSync(notes, 'utf8'), 'my notes\n');
    // A damaged cache of ours is still replaced.
    const damaged = path.join(tmp, 'damaged.cache');
    fs.writeFileSync(damaged, 'FRCOUNTS-but-damaged');
    await buildVocab(ws, tokenizer as never, { cacheFile: damaged });
    assert.notEqual(fs.readFileSync(damaged, 'latin1'), 'FRCOUNTS-but-damaged');
    assert.equal(fs.readFileSync(damaged, 'latin1').slice(0, 8), 'FRCOUNTS');
  });

  it('6. a file name with the byte 0xFF is counted', async () => {
    const ws = path.join(tmp, 'ws-bytes');
    fs.mkdirSync(ws);
    fs.writeFileSync(Buffer.concat([Buffer.from(ws + '/'), Buffer.from([0x66, 0xff, 0x2e, 0x70, 0x79])]), 'z = 3\n');
    fs.writeFileSync(path.join(ws, 'ok.py'), 'x = 1\n');
    const walked = walkFolder(ws);
    assert.deepEqual(walked.files.map((f) => f.rel), ['f%FF.py', 'ok.py']);
    const tokenizer = { fingerprint: 'f', pre: 'p', vocabSize: 256, specials: { eog: [] } as never, encode: (t: string) => Int32Array.from(Buffer.from(t)) };
    const r = await buildVocab(ws, tokenizer as never);
    assert.equal(r.vocab.corpus.files, 2);
    assert.equal(r.skipped.unreadable, undefined);
  });

  it('8. tensors whose data overlap are refused; a NUL in the architecture is shown, not cut', () => {
    const overlap = buildGguf({
      metadata: [{ key: 'general.architecture', type: 'string', value: 'qwen2' }],
      tensors: [
        { name: 'a', shape: [8], type: GGML_TYPE_IDS.F32, data: f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]) },
        { name: 'b', shape: [8], type: GGML_TYPE_IDS.F32, data: f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]) },
      ],
    });
    // Point b's data offset (the u64 after its name, dimension count, dimension and type) at a's data.
    const file = path.join(tmp, 'overlap.gguf');
    const b = Buffer.from(overlap);
    const nameAt = b.indexOf(Buffer.from('\x01\x00\x00\x00\x00\x00\x00\x00b', 'latin1'));
    const offsetAt = nameAt + 9 + 4 + 8 + 4;
    assert.equal(b.readBigUInt64LE(offsetAt), 32n);
    b.writeBigUInt64LE(0n, offsetAt);
    fs.writeFileSync(file, b);
    assert.throws(() => openGguf(file), /tensor 'b' data \(at data offset 0\) overlaps tensor 'a' \(32 bytes at data offset 0\)/);

    const nul = path.join(tmp, 'nul.gguf');
    fs.writeFileSync(nul, buildGguf({ metadata: [{ key: 'general.architecture', type: 'string', value: 'qw\0en2' }], tensors: [] }));
    assert.throws(() => estimateMemory(nul), /nul\.gguf: architecture 'qw\\x00en2' is not supported \(supported: qwen2, llama, eagle\)/);
  });
});
