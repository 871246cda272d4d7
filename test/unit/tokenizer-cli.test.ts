// `frspec tokenize` end to end through cli/frspec.ts's main(), on a synthetic vocabulary.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../cli/frspec';
import { tinyVocab, tokenizerGguf } from '../../fixtures/tokenizer-vocab';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-tokcli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function frspec(args: string[], stdin: string | Buffer = ''): Promise<{ code: number; out: Buffer; err: string }> {
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
  const out: Buffer[] = [], err: Buffer[] = [];
  io.stdout.on('data', (c) => out.push(c));
  io.stderr.on('data', (c) => err.push(c));
  io.stdin.end(stdin);
  const code = await main(args, io);
  return { code, out: Buffer.concat(out), err: Buffer.concat(err).toString() };
}

describe('frspec tokenize', () => {
  const v = tinyVocab();
  const model = path.join(tmp, 'tiny.gguf');
  before(() => fs.writeFileSync(model, tokenizerGguf(v)));

  it('prints the ids of stdin as a JSON array, and --decode gives back the exact bytes', async () => {
    const text = Buffer.concat([Buffer.from('def self <|fim_prefix|> é😀\n'), Buffer.from([0xff, 0xc3])]);
    const enc = await frspec(['tokenize', '--model', model], text);
    assert.equal(enc.code, 0, enc.err);
    const ids = JSON.parse(enc.out.toString());
    assert.ok(ids.includes(v.ids['def']) && !ids.includes(v.ids['<|fim_prefix|>']));
    const dec = await frspec(['tokenize', '-m', model, '--decode'], JSON.stringify(ids));
    assert.equal(dec.code, 0, dec.err);
    assert.deepEqual(dec.out, text);
  });

  it('--json prints one object as the last line; --text and --info', async () => {
    const r = await frspec(['tokenize', '-m', model, '--text', ' the', '--json']);
    assert.deepEqual(JSON.parse(r.out.toString().trim().split('\n').pop()!), { ok: true, ids: [v.ids['Ġthe']], count: 1 });
    const d = await frspec(['tokenize', '-m', model, '--decode', '--json'], `[${v.ids['Ġthe']}, 97]`);
    assert.deepEqual(JSON.parse(d.out.toString()), { ok: true, text: ' thea', count: 2 });
    const info = await frspec(['tokenize', '-m', model, '--info', '--json']);
    const o = JSON.parse(info.out.toString());
    assert.equal(o.ok, true);
    assert.equal(o.pre, 'qwen2');
    assert.equal(o.vocabSize, v.tokens.length);
    assert.match(o.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(o.specials.fimPre, v.ids['<|fim_prefix|>']);
    assert.match((await frspec(['tokenize', '--help'])).out.toString(), /^usage: frspec tokenize/);
  });

  it('exits non-zero with a one-line reason on bad input', async () => {
    const cases: Array<[string[], string, number, RegExp]> = [
      [['tokenize'], '', 2, /--model MODEL.gguf is required/],
      [['tokenize', '-m', model, '--decode'], '[1, 2', 2, /stdin is not JSON/],
      [['tokenize', '-m', model, '--decode'], '{"a": 1}', 2, /must be a JSON array/],
      [['tokenize', '-m', model, '--decode'], `[1, ${v.tokens.length}]`, 2, /token id \d+ at index 1 is not in the vocabulary/],
      [['tokenize', '-m', model, '--decode'], '[1.5]', 2, /token id 1.5 at index 0/],
      [['tokenize', '-m', path.join(tmp, 'nope.gguf')], 'x', 1, /nope.gguf: cannot open/],
      [['tokenize', '-m', model, '--text', 'a', '--info'], '', 2, /exclude each other/],
    ];
    for (const [args, stdin, code, re] of cases) {
      const r = await frspec([...args, '--json'], stdin);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1);
      assert.equal(JSON.parse(r.out.toString().trim().split('\n').pop()!).ok, false);
    }
    const sp = path.join(tmp, 'sp.gguf');
    fs.writeFileSync(sp, tokenizerGguf({ ...v, model: 'llama' }));
    const r = await frspec(['tokenize', '-m', sp], 'x');
    assert.equal(r.code, 1);
    assert.match(r.err, /only byte-level BPE/);
  });
});
