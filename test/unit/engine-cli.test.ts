// `frspec generate` end to end through cli/frspec.ts's main(), on a random-weight model that carries a
// small real BPE vocabulary (so text prompts, FIM layout and decoding all run for real).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { frspec, lastJson } from '../helpers/cli';
import { Engine } from '../../native/engine';
import { openTokenizer } from '../../native/tokenizer';
import { fixtureFile, removeFixtures } from '../../fixtures/random-model';
import { tinyVocab } from '../../fixtures/tokenizer-vocab';


describe('frspec generate', function () {
  this.timeout(30000);
  const v = tinyVocab();
  let model: string;
  before(() => {
    model = fixtureFile('cli-model', {
      arch: 'qwen2', type: 'F16', tied: false, layers: 1, vocab: v.tokens.length, seed: 5,
      extraMeta: [
        { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
        { key: 'tokenizer.ggml.pre', type: 'string', value: v.pre },
        { key: 'tokenizer.ggml.tokens', type: 'array', elementType: 'string', value: v.tokens },
        { key: 'tokenizer.ggml.token_type', type: 'array', elementType: 'i32', value: v.types },
        { key: 'tokenizer.ggml.merges', type: 'array', elementType: 'string', value: v.merges },
        { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: v.ids['<|endoftext|>'] },
        { key: 'tokenizer.ggml.fim_pre_token_id', type: 'u32', value: v.ids['<|fim_prefix|>'] },
        { key: 'tokenizer.ggml.fim_suf_token_id', type: 'u32', value: v.ids['<|fim_suffix|>'] },
        { key: 'tokenizer.ggml.fim_mid_token_id', type: 'u32', value: v.ids['<|fim_middle|>'] },
      ],
    });
  });
  after(removeFixtures);

  it('completes a prompt: --json holds the ids, the text and the timings; greedy equals the library', async () => {
    const r = await frspec(['generate', '--model', model, '--prompt', 'def self', '-n', '6', '--threads', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out);
    assert.equal(j.ok, true);
    const tok = openTokenizer(model);
    assert.equal(j.nPrompt, tok.encode('def self').length);
    assert.equal(j.text, tok.decode(j.tokens));
    for (const k of ['promptMs', 'decodeMs', 'promptTokensPerSecond', 'tokensPerSecond']) assert.equal(typeof j.timings[k], 'number', k);
    assert.ok(j.memory.total >= j.memory.weights);
    const engine = await Engine.load(model, { threads: 1 });
    const lib = await engine.generate(tok.encode('def self'), { maxTokens: 6, stopTokens: tok.specials.eog });
    await engine.close();
    assert.deepEqual(j.tokens, [...lib.tokens]);

    const plain = await frspec(['generate', '--model', model, '--prompt', 'def self', '-n', '6', '--threads', '1']);
    assert.equal(plain.code, 0, plain.err);
    assert.equal(plain.out, j.text + '\n', 'prints the streamed completion');
    assert.match(plain.err, /memory: .* MiB/);
  });

  it('lays out fill-in-the-middle prompts, keeps typed markup as text, and samples by seed', async () => {
    const dir = path.dirname(model);
    fs.writeFileSync(path.join(dir, 'pre.txt'), 'def the');
    fs.writeFileSync(path.join(dir, 'suf.txt'), '\n\nself');
    const tok = openTokenizer(model);
    const fim = lastJson((await frspec(['generate', '-m', model, '--fim-prefix-file', path.join(dir, 'pre.txt'),
      '--fim-suffix-file', path.join(dir, 'suf.txt'), '-n', '4', '--json'])).out);
    assert.equal(fim.nPrompt, 3 + tok.encode('def the').length + tok.encode('\n\nself').length);
    const typed = lastJson((await frspec(['generate', '-m', model, '--prompt', '<|fim_prefix|>', '-n', '1', '--json'])).out);
    assert.equal(typed.nPrompt, tok.encode('<|fim_prefix|>').length);
    assert.ok(typed.nPrompt > 1, 'the marker typed as text is not one special token');
    const sample = (seed: string) => frspec(['generate', '-m', model, '--prompt', 'ab', '-n', '12', '--temperature', '1.5', '--seed', seed, '--json']);
    const [a, b, c] = await Promise.all([sample('4'), sample('4'), sample('5')]);
    assert.deepEqual(lastJson(a.out).tokens, lastJson(b.out).tokens);
    assert.notDeepEqual(lastJson(a.out).tokens, lastJson(c.out).tokens);
  });

  it('--file completes at the cursor as the editor does (its FIM prompt and stop rules, through the sidecar session)', async () => {
    const dir = path.dirname(model);
    const text = 'def the\n\nself';
    fs.writeFileSync(path.join(dir, 'cursor.py'), `def the⟨cursor⟩\n\nself`);
    fs.writeFileSync(path.join(dir, 'pre.txt'), 'def the');
    fs.writeFileSync(path.join(dir, 'suf.txt'), '\n\nself');
    const tok = openTokenizer(model);
    const r = await frspec(['generate', '-m', model, '--file', path.join(dir, 'cursor.py'), '-n', '8', '--threads', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out);
    assert.equal(j.nPrompt, 3 + tok.encode('def the').length + tok.encode('\n\nself').length, 'PSM: this vocabulary has no repository tokens');
    assert.equal(j.decoding.mode, 'plain');
    const fim = lastJson((await frspec(['generate', '-m', model, '--fim-prefix-file', path.join(dir, 'pre.txt'),
      '--fim-suffix-file', path.join(dir, 'suf.txt'), '-n', '8', '--threads', '1', '--json'])).out);
    assert.ok(fim.text.startsWith(j.text), `the editor's stop rules only cut the same greedy text: ${JSON.stringify(fim.text)} / ${JSON.stringify(j.text)}`);
    const at = await frspec(['generate', '-m', model, '--file', path.join(dir, 'pre.txt'), '--cursor', String(text.indexOf('\n')), '-n', '8', '--threads', '1', '--json']);
    assert.equal(at.code, 0, at.err);
    const bad = await frspec(['generate', '-m', model, '--file', path.join(dir, 'cursor.py'), '--temperature', '1']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--file decodes as the editor does/);
  });

  it('refuses bad input with a one-line reason', async () => {
    const usage = async (args: string[], message: RegExp) => {
      const r = await frspec(['generate', ...args]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
    };
    await usage(['--prompt', 'x'], /--model is required/);
    await usage(['-m', model, '--prompt', 'x', '--prompt-file', 'f'], /exactly one of/);
    await usage(['-m', model, '--fim-prefix-file', 'p'], /go together/);
    await usage(['-m', model, '--prompt', 'x', '--top-p', '0'], /--top-p must be/);
    await usage(['-m', model, '--prompt-file', path.join(path.dirname(model), 'absent.txt')], /absent\.txt: cannot read: ENOENT/);
    const missing = await frspec(['generate', '-m', model + '.absent', '--prompt', 'x']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /absent.*cannot open/);
  });
});
