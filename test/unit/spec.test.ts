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
import { fimPrompts, type FimPrompt } from '../../fixtures/fim-prompts';
import { SpecEngine, type SpecGenerateOptions } from '../../native/spec';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';
import { buildVocab } from '../../vocab/build';
import { readVocab, writeVocab } from '../../vocab/format';
import { demoModel, repoRoot, requireShared } from '../helpers/shared';
import { readJsonlCorpus } from '../../common/corpus';

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
  for await (const f of readJsonlCorpus(path.join(shared, 'corpus', 'train.jsonl.xz'))) {
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
  let shared: string;

  before(async function () {
    shared = requireShared(this);
    const target = demoModel('demo-target')!, draft = demoModel('demo-draft')!, eagle = demoModel('demo-eagle')!;
    tok = openTokenizer(target);
    stop = tok.specials.eog;
    prompts = await fimPrompts(readJsonlCorpus(path.join(shared, 'corpus', 'dev.jsonl.xz')), tok, N_PROMPTS, { prefixChars: 600, suffixChars: 200 });
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
            // Per draft position: sums equal the drafted and accepted tokens; a position never accepts more than it
            // drafted, nor more than the position above it (a token is accepted only below an accepted one).
            const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
            assert.equal(sum(r.draftedAt), r.drafted, `${drafter} ${vname} ${sname}: draftedAt ${r.draftedAt}`);
            assert.equal(sum(r.acceptedAt), r.accepted, `${drafter} ${vname} ${sname}: acceptedAt ${r.acceptedAt}`);
            assert.equal(r.acceptedAt.length, r.draftedAt.length);
            r.acceptedAt.forEach((a, k) => assert.ok(a <= r.draftedAt[k] && (k === 0 || a <= r.acceptedAt[k - 1]), `position ${k + 1}: ${r.acceptedAt} of ${r.draftedAt}`));
            if (sopts.lookup) lookupSteps += r.lookupSteps, lookupShapeSteps += r.steps;
            else assert.equal(r.lookupSteps, 0, `${drafter} ${vname} ${sname}: lookup steps without lookup`);
          }
          summary.push(`${drafter.padEnd(5)} ${vname.padEnd(20)} ${sname.padEnd(16)} tau ${(emitted / steps).toFixed(2)}`);
        }
    console.log(summary.map((s) => `      ${s}`).join('\n'));
    // Both kinds of step were exercised: drafts from the context and from the drafter.
    assert.ok(lookupSteps > 0 && lookupSteps < lookupShapeSteps, `lookup steps ${lookupSteps} of ${lookupShapeSteps}`);
  });

  it('a draft model reading only the prompt\'s last tokens (draftWindow) still gives plain greedy output', async () => {
    // Long prompts (up to 4000 characters before the cursor), each new to the caches.
    const long = await fimPrompts(readJsonlCorpus(path.join(shared, 'corpus', 'dev.jsonl.xz')), tok, 6, { prefixChars: 1600, suffixChars: 400 });
    let read = 0, windowed = 0;
    for (const p of long) {
      const plain = await engine.generate(p.tokens, { drafter: 'none', maxTokens: N_TOKENS, stopTokens: stop });
      const r = await engine.generate(p.tokens, { drafter: 'draft', vocab, vocabTopK: 8192, contextTokens: true, chain: 3, lookup: 2, draftWindow: 64, maxTokens: N_TOKENS, stopTokens: stop });
      assert.deepEqual(Array.from(r.tokens), Array.from(plain.tokens), `draftWindow 64: ${p.path} differs from plain greedy decoding`);
      // A new prompt: the drafter reads at most 2 x the window (the window start is kept while typing).
      assert.ok(r.draftPromptTokens <= 128, `the drafter read ${r.draftPromptTokens} of ${p.tokens.length} prompt tokens`);
      read += r.draftPromptTokens;
      if (p.tokens.length > 128) windowed++;
      // A keystroke: one token more, 10 before the end. The window start stays: the drafter reads the tail only.
      const at = p.tokens.length - 10;
      const typed = [...p.tokens.slice(0, at), p.tokens[at - 2], ...p.tokens.slice(at)];
      const again = await engine.generate(typed, { drafter: 'draft', vocab, vocabTopK: 8192, contextTokens: true, chain: 3, draftWindow: 64, maxTokens: 4, stopTokens: stop });
      assert.ok(again.draftPromptTokens <= 11, `after a keystroke the drafter read ${again.draftPromptTokens} tokens`);
    }
    assert.ok(windowed > 0, 'no prompt was longer than the window');
    console.log(`      draftWindow 64: the drafter read ${read} prompt tokens of ${long.reduce((s, p) => s + p.tokens.length, 0)}`);
  });

  it('context lookup over earlier completions (lookupHistory) drafts from them and stays plain greedy', async () => {
    const opts: SpecGenerateOptions = { vocab, vocabTopK: 8192, contextTokens: true, chain: 3, lookup: 3, lookupTokens: 12, maxTokens: N_TOKENS, stopTokens: stop };
    let withSteps = 0, withoutSteps = 0;
    for (const p of prompts.slice(0, 6)) {
      const plain = (await engine.generate(p.tokens, { drafter: 'none', maxTokens: N_TOKENS, stopTokens: stop })).tokens;
      // As the sidecar keeps it (RecentCompletions): the prompt's tail and its completion, behind a separator.
      const history = [-1, ...p.tokens.slice(-8), ...plain];
      // Noise: another prompt's ids, and the completion shifted by one token.
      const noise = [-1, ...prompts[19].tokens.slice(0, 40), -1, ...p.tokens.slice(-8), ...plain.slice(1)];
      for (const drafter of ['draft', 'eagle'] as const) {
        const none = await engine.generate(p.tokens, { drafter, ...opts });
        const right = await engine.generate(p.tokens, { drafter, ...opts, lookupHistory: history });
        const wrong = await engine.generate(p.tokens, { drafter, ...opts, lookupHistory: Int32Array.from(noise) });
        for (const [name, r] of [['right', right], ['noise', wrong]] as const)
          assert.deepEqual(Array.from(r.tokens), Array.from(plain), `${drafter}, history ${name}: ${p.path} differs from plain greedy`);
        withSteps += right.steps;
        withoutSteps += none.steps;
      }
    }
    assert.ok(withSteps < withoutSteps, `steps with the completion as history ${withSteps}, without ${withoutSteps}`);
    await assert.rejects(engine.generate(prompts[0].tokens, { drafter: 'draft', ...opts, lookupHistory: [5, 1 << 30] }), /lookupHistory: token id 1073741824 is outside the vocabulary/);
    console.log(`      lookup history: ${withSteps} steps with the completion as history, ${withoutSteps} without`);
  });

  it('the prompt-id head is built in prompt processing and kept across prompts that share their ids', async () => {
    const opts: SpecGenerateOptions = { drafter: 'draft', vocab, vocabTopK: 8192, contextTokens: true, chain: 3, maxTokens: N_TOKENS, stopTokens: stop };
    const p = prompts[5].tokens;
    const first = await engine.generate(p, opts);
    // A keystroke later: the same ids (one token fewer at the end) — the head keeps its columns, nothing is gathered.
    const next = await engine.generate(p.slice(0, -2).concat(p.slice(-1)), opts);
    assert.equal(next.headRows, first.headRows);
    // Another file's prompt adds its new ids to the head (a superset: verification keeps the output exact).
    const other = await engine.generate(prompts[6].tokens, opts);
    assert.ok(other.headRows >= first.headRows, `head rows ${first.headRows} -> ${other.headRows}`);
    const plain = await engine.generate(prompts[6].tokens, { drafter: 'none', maxTokens: N_TOKENS, stopTokens: stop });
    assert.deepEqual(Array.from(other.tokens), Array.from(plain.tokens));
    // Without prompt ids the head is the FR-Spec top k alone again.
    const bare = await engine.generate(prompts[6].tokens, { ...opts, contextTokens: false });
    assert.equal(bare.headRows, 8192);
  });

  it('plain decoding through the EAGLE loop (noDraft) keeps the features: the next speculative request reuses the cache', async () => {
    const p = prompts[7].tokens;
    const plain = await engine.generate(p, { drafter: 'none', maxTokens: N_TOKENS, stopTokens: stop });
    const r = await engine.generate(p, { drafter: 'eagle', noDraft: true, maxTokens: N_TOKENS, stopTokens: stop });
    assert.deepEqual(Array.from(r.tokens), Array.from(plain.tokens));
    assert.equal(r.drafted, 0);
    assert.equal(r.tau, 1);
    const spec = await engine.generate(p, { drafter: 'eagle', vocab, vocabTopK: 8192, chain: 3, maxTokens: N_TOKENS, stopTokens: stop });
    assert.deepEqual(Array.from(spec.tokens), Array.from(plain.tokens));
    assert.equal(spec.nReused, p.length - 1, 'the prompt was evaluated again');
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
