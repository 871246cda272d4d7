// `frspec generate --draft/--eagle` end to end through cli/frspec.ts on random-weight models that carry a
// small real BPE vocabulary (no ../shared needed): speculative output equals plain greedy output token for
// token (chain and tree, full vocabulary and FR-Spec), the JSON adds the speculation statistics, and a
// draft model or a .frv of another tokenizer is refused with a clear message.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { frspec, lastJson } from '../helpers/cli';
import { openTokenizer } from '../../native/tokenizer';
import { writeVocab } from '../../vocab/format';
import type { GgufMeta } from '../../fixtures/gguf-writer';
import { fixtureFile, removeFixtures } from '../../fixtures/random-model';
import { tinyVocab } from '../../fixtures/tokenizer-vocab';


describe('frspec generate --draft (speculative, fixtures)', function () {
  this.timeout(60000);
  const v = tinyVocab();
  const meta = (pre: string): GgufMeta[] => [
    { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: 'string', value: pre },
    { key: 'tokenizer.ggml.tokens', type: 'array', elementType: 'string', value: v.tokens },
    { key: 'tokenizer.ggml.token_type', type: 'array', elementType: 'i32', value: v.types },
    { key: 'tokenizer.ggml.merges', type: 'array', elementType: 'string', value: v.merges },
    { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: v.ids['<|endoftext|>'] },
  ];
  const shape = { arch: 'qwen2', type: 'F32', tied: true, layers: 1, vocab: v.tokens.length } as const;
  let target: string, draft: string, otherDraft: string, dir: string;
  before(() => {
    target = fixtureFile('spec-cli-target', { ...shape, seed: 21, extraMeta: meta(v.pre) });
    draft = fixtureFile('spec-cli-draft', { ...shape, seed: 22, d: 32, extraMeta: meta(v.pre) });
    otherDraft = fixtureFile('spec-cli-other', { ...shape, seed: 23, extraMeta: meta(v.pre === 'llama-bpe' ? 'qwen2' : 'llama-bpe') });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-spec-cli-'));
  });
  after(() => { removeFixtures(); fs.rmSync(dir, { recursive: true, force: true }); });

  it('gives plain greedy output token for token (chain, tree, FR-Spec) and reports tau, steps, draft and verify time', async () => {
    const base = ['generate', '--model', target, '--prompt', 'def self return', '-n', '24', '--threads', '1', '--json'];
    const plain = await frspec(base);
    assert.equal(plain.code, 0, plain.err);
    const want = lastJson(plain.out).tokens;
    // A ranked vocabulary of this tokenizer: every id, in reverse order (so FR-Spec k=8 keeps the highest ids).
    const tok = openTokenizer(target);
    const ids = Uint32Array.from({ length: tok.vocabSize }, (_, i) => tok.vocabSize - 1 - i);
    const frv = path.join(dir, 'v.frv');
    writeVocab(frv, { fingerprint: tok.fingerprint, pre: tok.pre, vocabSize: tok.vocabSize, source: 'test', createdAt: 0,
      corpus: { files: 1, bytes: 1, tokens: (ids.length * (ids.length + 1)) / 2 }, ids,
      counts: Float64Array.from(ids, (_, i) => ids.length - i), forced: 0 });
    for (const extra of [[], ['--tree'], ['--chain', '6', '--vocab', frv, '--vocab-top-k', '8'], ['--tree', '--vocab', frv, '--context-tokens'],
      ['--chain', '3', '--lookup', '1', '--lookup-tokens', '5', '--vocab', frv, '--vocab-top-k', '8']]) {
      const r = await frspec([...base, '--draft', draft, ...extra]);
      assert.equal(r.code, 0, r.err);
      const j = lastJson(r.out);
      assert.deepEqual(j.tokens, want, `--draft ${extra.join(' ')}`);
      assert.equal(j.spec.drafter, 'draft-model');
      assert.ok(j.spec.steps >= 1 && j.spec.tau >= 1 && j.spec.draftMs >= 0 && j.spec.verifyMs > 0, JSON.stringify(j.spec));
      assert.ok(extra.includes('--lookup') ? j.spec.lookupSteps >= 0 && j.spec.lookupSteps <= j.spec.steps : j.spec.lookupSteps === 0,
        JSON.stringify(j.spec));
    }
  });

  it('refuses a draft model or a vocabulary of another tokenizer, and drafting options without a drafter', async () => {
    const other = await frspec(['generate', '--model', target, '--draft', otherDraft, '--prompt', 'def', '-n', '2']);
    assert.equal(other.code, 1);
    assert.match(other.err, /spec-cli-other\.gguf has tokenizer .* but the target .* has .*same token list/);
    const tokOther = openTokenizer(otherDraft);
    const frv = path.join(dir, 'other.frv');
    writeVocab(frv, { fingerprint: tokOther.fingerprint, pre: tokOther.pre, vocabSize: tokOther.vocabSize, source: 'test', createdAt: 0,
      corpus: { files: 1, bytes: 1, tokens: 1 }, ids: Uint32Array.of(3), counts: Float64Array.of(1), forced: 0 });
    const badVocab = await frspec(['generate', '--model', target, '--draft', draft, '--vocab', frv, '--prompt', 'def', '-n', '2']);
    assert.equal(badVocab.code, 1);
    assert.match(badVocab.err, /other\.frv was built for tokenizer .*rebuild it with: frspec vocab build/);
    const noDrafter = await frspec(['generate', '--model', target, '--tree', '--prompt', 'def']);
    assert.equal(noDrafter.code, 2);
    assert.match(noDrafter.err, /--tree needs a drafter/);
    const lookupTokens = await frspec(['generate', '--model', target, '--draft', draft, '--lookup-tokens', '3', '--prompt', 'def']);
    assert.equal(lookupTokens.code, 2);
    assert.match(lookupTokens.err, /--lookup-tokens needs --lookup N/);
    const lookupRange = await frspec(['generate', '--model', target, '--draft', draft, '--lookup', '5', '--prompt', 'def']);
    assert.equal(lookupRange.code, 2);
    assert.match(lookupRange.err, /--lookup must be an integer from 0 to 4, got '5'/);
  });
});
