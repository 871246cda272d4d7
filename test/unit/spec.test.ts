// Speculative decoding end to end through the addon on the demo models (../shared): greedy output must be
// token for token the target's plain greedy decoding on 20 FIM prompts from the dev split, for every
// drafter x {full vocabulary, FR-Spec 8k, FR-Spec 32k (+ prompt ids)} x {chain, tree, chain with context
// lookup first}; a vocabulary built
// for another tokenizer is refused; cancellation and stops work. The FR-Spec vocabulary is counted once
// from the head of the train split into .cache/spec-test/ (reused by later runs).
// The native suite (spec_loop_test) covers the EAGLE reference, KV rollback and every stop condition.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fimPrompts, type FimPrompt } from '../../bench/fim-prompts';
import { SpecEngine, type SpecGenerateOptions } from '../../native/spec';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';
import { buildVocab } from '../../vocab/build';
import { readVocab, writeVocab } from '../../vocab/format';
import { demoModel, readJsonlXz, repoRoot, requireShared } from '../helpers/shared';

const N_PROMPTS = 20;
const N_TOKENS = 16;
const cacheDir = path.join(repoRoot, '.cache', 'spec-test');

/** A .frv counted from the first ~3 MB of the train split (built once, then reused). */
async function trainVocab(shared: string, tok: Tokenizer): Promise<string> {
  const out = path.join(cacheDir, 'train-head.frv');
  try {
    readVocab(out, { name: 'demo-target', tokenizer: tok });
    return out;
  } catch { /* absent or stale: rebuild */ }
  fs.mkdirSync(cacheDir, { recursive: true });
  const subset = path.join(cacheDir, 'train-head.jsonl');
  const lines: string[] = [];
  let bytes = 0;
  for await (const f of readJsonlXz(path.join(shared, 'corpus', 'train.jsonl.xz'))) {
    lines.push(JSON.stringify(f));
    bytes += f.text.length;
    if (bytes > 3e6) break;
  }
  fs.writeFileSync(subset, lines.join('\n') + '\n');
  const built = await buildVocab(subset, tok);
  writeVocab(out, built.vocab);
  return out;
}

describe('speculative decoding (demo models, addon)', function () {
  this.timeout(600000);
  let engine: SpecEngine;
  let tok: Tokenizer;
  let prompts: FimPrompt[];
  let vocab: string;
  let stop: number[];

  before(async function () {
    const shared = requireShared(this);
    const target = demoModel('demo-target')!, draft = demoModel('demo-draft')!, eagle = demoModel('demo-eagle')!;
    tok = openTokenizer(target);
    stop = tok.specials.eog;
    prompts = await fimPrompts(readJsonlXz(path.join(shared, 'corpus', 'dev.jsonl.xz')), tok, N_PROMPTS, { prefixChars: 600, suffixChars: 200 });
    assert.equal(prompts.length, N_PROMPTS);
    vocab = await trainVocab(shared, tok);
    engine = await SpecEngine.load(target, { draft, eagle, threads: 2, contextSize: 1024 });
  });
  after(async () => engine?.close());

  it('greedy output is identical to plain greedy for every drafter x vocabulary x shape', async () => {
    const plain: Int32Array[] = [];
    for (const p of prompts) plain.push((await engine.generate(p.tokens, { drafter: 'none', maxTokens: N_TOKENS, stopTokens: stop })).tokens);
    const vocabs: Array<[string, SpecGenerateOptions]> = [
      ['full', {}],
      ['FR 8k', { vocab, vocabTopK: 8192 }],
      ['FR 32k + prompt ids', { vocab, vocabTopK: 32768, contextTokens: true }],
    ];
    const shapes: Array<[string, SpecGenerateOptions]> = [
      ['chain 4', { chain: 4 }], ['tree', { tree: true, depth: 4, branch: 4, beam: 4, nodes: 12 }],
      ['chain 3 + lookup', { chain: 3, lookup: 2 }],  // context lookup first, the drafter without a match
    ];
    const summary: string[] = [];
    let lookupSteps = 0, lookupShapeSteps = 0;
    for (const drafter of ['draft', 'eagle'] as const)
      for (const [vname, vopts] of vocabs)
        for (const [sname, sopts] of shapes) {
          let steps = 0, emitted = 0;
          for (let i = 0; i < prompts.length; i++) {
            const r = await engine.generate(prompts[i].tokens, { drafter, ...vopts, ...sopts, maxTokens: N_TOKENS, stopTokens: stop });
            assert.deepEqual(Array.from(r.tokens), Array.from(plain[i]),
              `${drafter} ${vname} ${sname}: prompt ${i} (${prompts[i].path}) differs from plain greedy decoding`);
            steps += r.steps;
            emitted += r.tau * r.steps;
            if (sopts.lookup) lookupSteps += r.lookupSteps, lookupShapeSteps += r.steps;
            else assert.equal(r.lookupSteps, 0, `${drafter} ${vname} ${sname}: lookup steps without lookup`);
          }
          summary.push(`${drafter.padEnd(5)} ${vname.padEnd(20)} ${sname.padEnd(16)} tau ${(emitted / steps).toFixed(2)}`);
        }
    console.log(summary.map((s) => `      ${s}`).join('\n'));
    // Both kinds of step were exercised: drafts from the context and from the drafter.
    assert.ok(lookupSteps > 0 && lookupSteps < lookupShapeSteps, `lookup steps ${lookupSteps} of ${lookupShapeSteps}`);
  });

  it('refuses a vocabulary built for another tokenizer, naming both', async () => {
    const v = readVocab(vocab);
    const other = path.join(cacheDir, 'other-tokenizer.frv');
    writeVocab(other, { ...v, fingerprint: 'f'.repeat(64), pre: 'llama-bpe' });
    await assert.rejects(engine.generate(prompts[0].tokens, { drafter: 'eagle', vocab: other, vocabTopK: 8192, maxTokens: 4 }),
      /other-tokenizer\.frv was built for tokenizer ffffffffffff.*pre-tokenizer llama-bpe.*demo-target\.gguf has tokenizer/);
    await assert.rejects(engine.generate(prompts[0].tokens, { drafter: 'eagle', vocab: path.join(cacheDir, 'missing.frv'), maxTokens: 4 }),
      /missing\.frv: cannot open/);
  });

  it('stops on max lines and on cancellation, and reports its statistics', async () => {
    const lines = await engine.generate(prompts[1].tokens, { drafter: 'draft', maxTokens: 64, maxLines: 1 });
    const text = tok.decode(lines.tokens);
    assert.ok(lines.stop === 'stop_check' ? (text.match(/\n/g) ?? []).length >= 1 : lines.tokens.length === 64, `stop ${lines.stop}: ${JSON.stringify(text)}`);
    const abort = new AbortController();
    let seen = 0;
    const cancelled = await engine.generate(prompts[2].tokens, {
      drafter: 'eagle', maxTokens: 200, signal: abort.signal, onToken: (ids) => { seen += ids.length; abort.abort(); },
    });
    assert.equal(cancelled.stop, 'cancelled');
    assert.ok(cancelled.tokens.length < 200 && seen >= 1);
    const r = await engine.generate(prompts[3].tokens, { drafter: 'eagle', vocab, vocabTopK: 16384, maxTokens: 24, tree: true });
    assert.ok(r.steps > 0 && r.tau >= 1 && r.draftMs > 0 && r.verifyMs > 0 && r.tokensPerSecond > 0 && r.headRows === 16384, JSON.stringify(r));
  });
});
