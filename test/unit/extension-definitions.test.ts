// Definition context (extension/context/definitions.ts): which identifiers are asked about, which definitions
// reach the prompt, and how they share the context budget with recent files; then the prompt they make.
import * as assert from 'node:assert/strict';
import { definitionBudget, definitionText, identifiersBeforeCursor, selectDefinitionChunks, shareContextBudget, type DefinitionSnippet } from '../../extension/context/definitions';
import { buildFimPrompt } from '../../extension/prompt/templates';

describe('extension: definitions from the language server as context', () => {
  const cursorAt = (src: string) => ({ text: src.replace('|', ''), offset: src.indexOf('|') });

  it('asks about the identifiers before the cursor, nearest first, without keywords or the word being typed', () => {
    const { text, offset } = cursorAt([
      'import { parseConfig } from "./config";',   // 4 lines up: outside the window
      'const opts = defaultOptions();',
      'function run(input: string) {',
      '  const cfg: Config = parseConfig(input, opts);',
      '  return cfg.server.lis|',
      '}',
    ].join('\n'));
    const ids = identifiersBeforeCursor(text, offset);
    assert.deepEqual(ids.map((i) => i.name), ['server', 'cfg', 'opts', 'input', 'parseConfig', 'Config', 'run', 'defaultOptions']);
    // Each at its last occurrence, where the provider is asked.
    const cfg = ids.find((i) => i.name === 'cfg')!;
    assert.equal(text.slice(cfg.offset, cfg.offset + 3), 'cfg');
    assert.equal(cfg.offset, text.lastIndexOf('cfg'));
    assert.ok(!ids.some((i) => i.name === 'lis'), 'the word under the cursor changes every keystroke');
    // After a finished word (a space or a dot typed) it counts.
    const after = cursorAt('x = config.load|');
    assert.deepEqual(identifiersBeforeCursor(after.text, after.offset).map((i) => i.name), ['config']);
    const dot = cursorAt('x = config.load(|');
    assert.deepEqual(identifiersBeforeCursor(dot.text, dot.offset).map((i) => i.name), ['load', 'config']);
  });

  it('stays within the window and the maximum, and handles the first line and non-ASCII names', () => {
    const first = cursorAt('résumé = größe + |');
    assert.deepEqual(identifiersBeforeCursor(first.text, first.offset).map((i) => i.name), ['größe', 'résumé']);
    const many = cursorAt(`${Array.from({ length: 20 }, (_, i) => `v${i}`).join(' + ')} |`);
    assert.equal(identifiersBeforeCursor(many.text, many.offset, 3, 8).length, 8);
    const lines = cursorAt('far\nb1\nb2\nb3\nhere |');
    assert.deepEqual(identifiersBeforeCursor(lines.text, lines.offset, 3).map((i) => i.name), ['here', 'b3', 'b2', 'b1']);
    assert.deepEqual(identifiersBeforeCursor('', 0), []);
  });

  it('cuts a definition to whole lines within its range, 15 lines and the character cap', () => {
    const src = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n');
    assert.equal(definitionText(src, 10, 12), 'line 10\nline 11\nline 12\n');
    assert.equal(definitionText(src, 0, 39).split('\n').length - 1, 15);
    assert.equal(definitionText(src, 0, 39, 15, 20), 'line 0\nline 1\n');
    assert.equal(definitionText('x'.repeat(100), 0, 0, 15, 10), `${'x'.repeat(9)}\n`);  // one long line: cut, not dropped
  });

  const def = (name: string, path: string, line: number, chars: number): DefinitionSnippet => ({ name, path, line, text: `${name}${'.'.repeat(chars - name.length - 1)}\n` });

  it('keeps each definition once, none the prompt already shows, whole ones within the budget, most relevant last', () => {
    const defs = [
      def('server', '/w/config.ts', 10, 300),
      def('cfg', '/w/main.ts', 40, 100),           // in the visible window of the current file: already in the prompt
      def('opts', '/w/main.ts', 2, 200),           // in the current file but above the window: useful
      def('Config', '/w/config.ts', 10, 300),      // same location as server's
      def('parseConfig', '/w/config.ts', 50, 600), // does not fit what is left
      def('run', '/w/util.ts', 5, 150),            // a smaller one further down still fits
    ];
    const chunks = selectDefinitionChunks(defs, '/w/main.ts', [20, 60], 700);
    assert.deepEqual(chunks.map((c) => c.text.split('.')[0]), ['run', 'opts', 'server']);
    assert.ok(chunks.reduce((s, c) => s + c.text.length, 0) <= 700);
    assert.deepEqual(selectDefinitionChunks(defs, '/w/main.ts', [0, 100], 0), []);
  });

  it('shares one budget: definitions up to half, recent files keep their count with smaller chunks', () => {
    assert.equal(definitionBudget(3, 1200), 1800);
    assert.deepEqual(shareContextBudget(3, 1200, 0), { recentFiles: 3, recentChunkChars: 1200 });
    assert.deepEqual(shareContextBudget(3, 1200, 1800), { recentFiles: 3, recentChunkChars: 600 });
    // Too little left for every file: fewer files rather than useless slivers.
    assert.deepEqual(shareContextBudget(10, 100, 900), { recentFiles: 1, recentChunkChars: 100 });
    assert.deepEqual(shareContextBudget(3, 300, 800), { recentFiles: 0, recentChunkChars: 0 });
    assert.deepEqual(shareContextBudget(0, 1200, 0), { recentFiles: 0, recentChunkChars: 0 });
    for (const [files, chars] of [[3, 1200], [1, 100], [10, 5000], [2, 150]]) {
      const d = definitionBudget(files, chars);
      const s = shareContextBudget(files, chars, d);
      assert.ok(d + s.recentFiles * s.recentChunkChars <= files * chars, `${files}x${chars}`);
    }
  });

  it('puts the definitions after the recent files in the repository-level prompt, nearest the cursor', () => {
    const defs = selectDefinitionChunks([def('server', 'config.ts', 10, 40)], 'main.ts', [0, 5], 1800);
    const parts = buildFimPrompt({ family: 'qwen', repoLevel: true }, {
      prefix: 'cfg.server.', suffix: '', path: 'main.ts', repoName: 'w', chunks: [{ path: 'recent.ts', text: 'let r = 1;\n' }, ...defs],
    });
    const texts = parts.filter((p): p is string => typeof p === 'string');
    assert.ok(texts.indexOf('recent.ts\nlet r = 1;\n') < texts.findIndex((t) => t.startsWith('config.ts\nserver')));
  });
});
