// `frspec bench spec` with --only (issue 13, item 8): a run whose filter leaves no speculative row used to die
// at the 10th prompt with "Reduce of empty array with no initial value"; now it prints its table with
// "best: no speculative configuration ran", and a pattern that names no row is refused before any prompt runs.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { frspec } from '../helpers/cli';
import { repoRoot, requireShared } from '../helpers/shared';

describe('frspec bench spec --only (issue 13, item 8)', function () {
  this.timeout(300000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-bench-only-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const corpus = path.join(tmp, 'corpus.jsonl');
  before(() => {
    const files = ['vocab/walk.ts', 'vocab/rank.ts', 'vocab/sparse.ts'].map((f) => JSON.stringify({ lang: 'TypeScript', path: f, text: fs.readFileSync(path.join(repoRoot, f), 'utf8') }));
    fs.writeFileSync(corpus, files.join('\n') + '\n');
  });

  it('a filter that leaves only plain decoding prints its table (no "Reduce of empty array")', async function () {
    requireShared(this);
    const r = await frspec(['bench', 'spec', '--corpus', corpus, '--prompts', '1', '--tokens', '4', '--chain', '3', '--lookup', '0', '--only', 'plain', '--no-llama-cpp', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /best: no speculative configuration ran/);
  });

  it('a pattern that matches no row is refused before any prompt runs, naming it', async function () {
    requireShared(this);
    const r = await frspec(['bench', 'spec', '--corpus', corpus, '--prompts', '1', '--tokens', '4', '--chain', '3', '--only', 'plain|draft model, chain 3, FR 8k train', '--no-llama-cpp']);
    assert.equal(r.code, 1);
    assert.match(r.err, /--only 'draft model, chain 3, FR 8k train' matches no configuration \(the "train" rows need --vocab-corpus\)/);
  });
});
