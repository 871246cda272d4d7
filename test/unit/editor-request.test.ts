// The editor's request without VS Code (extension/prompt/request.ts), which `frspec demo` and `frspec generate`
// send through the sidecar's session and decoder: its defaults are the extension's, the cursor context is the
// provider's, the prompt is the FIM layout of the model's family; and `frspec demo` end to end on the demo
// models (plain and speculative side by side, same text).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cursorAt, EDITOR_DEFAULTS, editorRequest } from '../../extension/prompt/request';
import { frspec, lastJson } from '../helpers/cli';
import { repoRoot, requireShared } from '../helpers/shared';

describe('the editor request outside the editor (extension/prompt/request.ts)', function () {
  it('has the extension\'s defaults (package.json)', () => {
    const props = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).contributes.configuration.properties;
    for (const [key, value] of Object.entries(EDITOR_DEFAULTS)) assert.equal(props[`frspec.${key}`].default, value, key);
  });

  it('reads the cursor context as the provider does from a document (its line, the 3 lines after, not the last)', () => {
    const text = 'a\n  bc\nd\ne\nf\ng';
    // The provider: lineAt(line) split at the column; getText(line + 1 .. min(lineCount - 1, line + 4), column 0).split('\n').
    const lines = text.split('\n');
    const provider = (line: number, col: number) => ({
      linePrefix: lines[line].slice(0, col), lineSuffix: lines[line].slice(col),
      nextLines: line + 1 < lines.length ? lines.slice(line + 1, Math.min(lines.length - 1, line + 4)).map((l) => `${l}\n`).join('').split('\n') : [],
    });
    let offset = 0;
    for (const [i, l] of lines.entries()) {
      for (let col = 0; col <= l.length; col++) assert.deepEqual(cursorAt(text, offset + col), provider(i, col), `line ${i}, column ${col}`);
      offset += l.length + 1;
    }
  });

  it('builds the model family\'s FIM prompt and the stop rules of the cursor', () => {
    const qwen = { fim_prefix: '<|fim_prefix|>', fim_suffix: '<|fim_suffix|>', fim_middle: '<|fim_middle|>', repo_name: '<|repo_name|>', file_sep: '<|file_sep|>' };
    const text = 'def f(x):\n    return x\n';
    const mid = editorRequest(text, 'def f('.length, { path: 'a.py', repoName: 'r', languageId: 'python' }, qwen);
    assert.deepEqual(mid.params.parts, [{ special: 'repo_name' }, 'r\n', { special: 'file_sep' }, 'a.py\n',
      { special: 'fim_prefix' }, 'def f(', { special: 'fim_suffix' }, 'x):\n    return x\n', { special: 'fim_middle' }]);
    assert.equal(mid.params.maxLines, 1, 'in the middle of a line: one line');
    assert.equal(mid.params.timeBudgetMs, EDITOR_DEFAULTS.timeBudgetMs);
    const end = editorRequest(text, text.length, { path: 'a.py', repoName: 'r', languageId: 'python' }, { fim_prefix: '<PRE>', fim_suffix: '<SUF>', fim_middle: '<MID>' },
      { ...EDITOR_DEFAULTS, timeBudgetMs: 0, promptBudgetMs: 0 });
    assert.deepEqual(end.params.parts, [{ special: 'fim_prefix' }, ` ${text}`, { special: 'fim_suffix' }, ' ', { special: 'fim_middle' }], 'codellama: spaces after the markers');
    assert.equal(end.params.maxLines, EDITOR_DEFAULTS.maxLines);
    assert.equal(end.params.timeBudgetMs, undefined);
  });
});

describe('frspec demo (the main job) through the sidecar session and decoder', function () {
  it('completes a sample file plainly and speculatively with the same text, and names the decoder chosen', async function () {
    this.timeout(240000);
    requireShared(this);
    const r = await frspec(['demo', '--workspace', path.join(repoRoot, 'examples'), '--file', path.join(repoRoot, 'examples', 'lru_cache.ts'), '-n', '16', '--threads', '2', '--json']);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out);
    assert.equal(j.decoding.mode, 'speculative', 'the demo draft model drafts');
    assert.equal(j.completions.length, 1);
    const c = j.completions[0];
    assert.equal(c.sameText, true);
    assert.equal(c.plain.text, c.speculative.text);
    assert.ok(c.speculative.tau >= 1 && c.plain.tau === 1, JSON.stringify(c));
    assert.ok(['plain', 'speculative'].includes(c.chosen) && typeof c.why === 'string', JSON.stringify(c));
    assert.ok(c.promptTokens > 20 && c.plain.tokens > 0, JSON.stringify(c));
  });
});
