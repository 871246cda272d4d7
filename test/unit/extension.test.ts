// The extension's pure logic: FIM prompts by model family, context windows and chunks, the typed-along
// cache, the multi-line stop rules, the status bar text and the vocabulary's storage key.
import { strict as assert } from 'node:assert';
import { TypedAlongCache } from '../../extension/cache/typed-along';
import { chunkAround, RecentFiles } from '../../extension/context/recent-files';
import { prefixWindow, suffixWindow } from '../../extension/context/windows';
import { postprocess, requestRules } from '../../extension/postprocess/multiline';
import { buildFimPrompt, fimCapabilities, lineCommentFor } from '../../extension/prompt/templates';
import { drafterName, languageName, statisticsReport, statusView } from '../../extension/ui/status-format';
import { folderForFile } from '../../extension/vocab/active-folder';
import { vocabFileFor } from '../../extension/vocab/vocab-path';
import type { StatsResult } from '../../sidecar/protocol';
import { findStop } from '../../sidecar/stop-rules';

const QWEN = { fim_prefix: '<|fim_prefix|>', fim_suffix: '<|fim_suffix|>', fim_middle: '<|fim_middle|>', repo_name: '<|repo_name|>', file_sep: '<|file_sep|>' };
const input = { prefix: 'def f(x):\n    ', suffix: '\n\nprint(f(2))\n', path: 'src/a.py', repoName: 'proj', chunks: [{ path: 'src/b.py', text: 'B = 1' }], lineComment: '#' };

describe('extension: FIM templates', () => {
  it('picks the family and layout from the model\'s own special tokens', () => {
    assert.deepEqual(fimCapabilities(QWEN), { family: 'qwen', repoLevel: true });
    assert.deepEqual(fimCapabilities({ fim_prefix: '<fim_prefix>', fim_suffix: '<fim_suffix>', fim_middle: '<fim_middle>', repo_name: '<reponame>', file_sep: '<file_sep>' }), { family: 'starcoder', repoLevel: true });
    assert.deepEqual(fimCapabilities({ fim_prefix: '<｜fim▁begin｜>', fim_suffix: '<｜fim▁hole｜>', fim_middle: '<｜fim▁end｜>' }), { family: 'deepseek', repoLevel: false });
    assert.deepEqual(fimCapabilities({ fim_prefix: '▁<PRE>', fim_suffix: '▁<SUF>', fim_middle: '▁<MID>' }), { family: 'codellama', repoLevel: false });
    assert.equal(fimCapabilities({ eos: '</s>' }), undefined);
  });

  it('Qwen2.5-Coder repository layout: repo name, other files, then PSM for the current file', () => {
    assert.deepEqual(buildFimPrompt(fimCapabilities(QWEN)!, input), [
      { special: 'repo_name' }, 'proj\n',
      { special: 'file_sep' }, 'src/b.py\nB = 1\n',
      { special: 'file_sep' }, 'src/a.py\n',
      { special: 'fim_prefix' }, 'def f(x):\n    ', { special: 'fim_suffix' }, '\n\nprint(f(2))\n', { special: 'fim_middle' },
    ]);
  });

  it('models without repository tokens get the other files as comments; CodeLlama gets its spaces', () => {
    const ds = buildFimPrompt({ family: 'deepseek', repoLevel: false }, input);
    assert.deepEqual(ds, [{ special: 'fim_prefix' }, '# src/b.py\n# B = 1\n\ndef f(x):\n    ', { special: 'fim_suffix' }, input.suffix, { special: 'fim_middle' }]);
    const cl = buildFimPrompt({ family: 'codellama', repoLevel: false }, { ...input, chunks: [] });
    assert.deepEqual(cl, [{ special: 'fim_prefix' }, ' def f(x):\n    ', { special: 'fim_suffix' }, ' ' + input.suffix, { special: 'fim_middle' }]);
    assert.equal(lineCommentFor('typescript'), '//');
    assert.equal(lineCommentFor('python'), '#');
  });

  it('text that spells a special token stays a text part', () => {
    const parts = buildFimPrompt(fimCapabilities(QWEN)!, { ...input, chunks: [], prefix: 'x = "<|fim_middle|>"\n' });
    assert.ok(parts.includes('x = "<|fim_middle|>"\n'));
    assert.equal(parts.filter((p) => typeof p !== 'string' && p.special === 'fim_middle').length, 1);
  });
});

describe('extension: multi-root workspaces', () => {
  it('the vocabulary of the folder that holds the file (the deepest when folders nest), else the first', () => {
    const folders = ['/w/app', '/w/lib', '/w/app/packages/ui'];
    assert.equal(folderForFile(folders, '/w/lib/src/a.ts'), '/w/lib');
    assert.equal(folderForFile(folders, '/w/app/main.py'), '/w/app');
    assert.equal(folderForFile(folders, '/w/app/packages/ui/button.tsx'), '/w/app/packages/ui');
    assert.equal(folderForFile(folders, '/w/library/x.ts'), '/w/app');  // a name prefix is not a parent folder
    assert.equal(folderForFile(folders, '/elsewhere/x.ts'), '/w/app');
    assert.equal(folderForFile(folders, undefined), '/w/app');
    assert.equal(folderForFile([], '/w/lib/a.ts'), undefined);
  });
});

describe('extension: context', () => {
  it('windows cut at line boundaries and keep the start stable while typing on a line', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\nabc';
    const w = prefixWindow(text, 50);
    assert.ok(w.length <= 50 && w.endsWith('abc') && text.includes('\n' + w));
    assert.equal(prefixWindow(text + 'd', 50).slice(0, 10), w.slice(0, 10));
    assert.equal(prefixWindow('short', 50), 'short');
    const s = suffixWindow(text, 30);
    assert.ok(s.length <= 30 && s.endsWith('\n') && text.startsWith(s));
    assert.equal(prefixWindow('x'.repeat(100), 10), 'x'.repeat(10));
  });

  it('the prefix window\'s start moves once per quarter window typed, not at every line it slides past', () => {
    const file = Array.from({ length: 400 }, (_, i) => `    value_${i} = compute(${i})`).join('\n');
    let before = file.slice(0, 6000), starts = 0, last = '';
    for (let typed = 0; typed < 750; ++typed) {  // typing 750 characters at the end of the prefix
      before += file[6000 + typed];
      const w = prefixWindow(before, 1500);
      assert.ok(w.length <= 1500 && w.length > 1500 - 375 - 40 && before.endsWith(w));
      const start = before.length - w.length;
      if (String(start) !== last) { starts++; last = String(start); }
    }
    // 750 characters at a step of 375: the start moves at most twice (plus the first window); a window
    // cut at the first line start after a sliding offset would move at every line (~25 times here).
    assert.ok(starts <= 3, `window start moved ${starts} times`);
  });

  it('recent files: newest nearest the cursor, current file excluded, chunks around the last edit', () => {
    const r = new RecentFiles(3);
    r.touch('/a', 'A\n', 0, 1);
    r.touch('/b', 'B\n', 0, 2);
    r.touch('/c', 'C\n', 0, 3);
    r.touch('/d', 'D\n', 0, 4);  // evicts /a
    assert.deepEqual(r.chunks('/c', 5, 100).map((c) => c.path), ['/b', '/d']);
    assert.deepEqual(r.chunks('/x', 2, 100).map((c) => c.path), ['/c', '/d']);
    const long = Array.from({ length: 200 }, (_, i) => `row ${i}`).join('\n');
    const chunk = chunkAround(long, long.indexOf('row 150'), 100);
    assert.ok(chunk.length <= 100 && chunk.includes('row 150') && chunk.startsWith('row '));
  });
});

describe('extension: typed-along cache', () => {
  it('returns the rest of a shown suggestion while the user types it, and nothing once they diverge', () => {
    const c = new TypedAlongCache();
    c.store('doc', 'def f(x):\n    ', 'return x + 1');
    assert.equal(c.lookup('doc', 'def f(x):\n    '), 'return x + 1');
    assert.equal(c.lookup('doc', 'def f(x):\n    ret'), 'urn x + 1');
    assert.equal(c.lookup('doc', 'def f(x):\n    return x + 1'), undefined);  // fully typed
    assert.equal(c.lookup('doc', 'def f(x):\n    rex'), undefined);
    assert.equal(c.lookup('other', 'def f(x):\n    ret'), undefined);
    assert.equal(c.lookup('doc', 'def g(x):\n    ret'), undefined);  // same length, different text
    c.clear('doc');
    assert.equal(c.lookup('doc', 'def f(x):\n    ret'), undefined);
  });
});

describe('extension: stop rules', () => {
  const at = (linePrefix: string, lineSuffix = '', nextLines: string[] = []) => ({ linePrefix, lineSuffix, nextLines });

  it('mid-line: one line, without the text already after the cursor', () => {
    assert.deepEqual(requestRules(at('print(', ')')), { maxLines: 1, stopAtBlankLine: true });
    assert.equal(postprocess('x + 1)\nmore', at('print(', ')')), 'x + 1');
  });

  it('multi-line: stops at a dedent below the cursor\'s block, and at a blank line', () => {
    assert.equal(postprocess('    y = x * 2\n    return y\ndef g():\n    pass', at('    ')), '    y = x * 2\n    return y');
    assert.equal(postprocess('\n    return 1\n\n    other()', at('def f():')), '\n    return 1');
    assert.equal(postprocess('\nnext_top_level()', at('def f():')), '');
  });

  it('stops where the model starts repeating a line', () => {
    assert.equal(postprocess('\n    return a\n    #', at('    return a')), '');
    assert.equal(postprocess('x = 1\nx = 1\ny = 2', at('')), 'x = 1');
    assert.equal(postprocess('\n    y = 2\n    y = 2', at('    x = 1')), '\n    y = 2');
  });

  it('does not repeat the next line of the document', () => {
    assert.equal(postprocess('a = 1\nb = 2\nc = 3', at('', '', ['b = 2', 'c = 3'])), 'a = 1');
  });

  it('sidecar stop rules cut before the stop text', () => {
    assert.deepEqual(findStop('abc\ndef\n', { maxLines: 1 }), { length: 3, reason: 'max_lines' });
    assert.deepEqual(findStop('a = 1\n\nb', { stopAtBlankLine: true }), { length: 5, reason: 'blank_line' });
    assert.deepEqual(findStop('\n\nfoo', { stopAtBlankLine: true }), undefined);
    assert.deepEqual(findStop('x = 1 # END', { stopSequences: ['#'] }), { length: 6, reason: 'stop_sequence' });
  });
});

describe('extension: status bar and statistics', () => {
  const stats = (mode: 'plain' | 'speculative'): StatsResult => ({
    decoding: { mode, active: mode }, requests: { received: 10, completed: 6, cancelled: 4, superseded: 3, failed: 0 },
    recent: { count: 6, tokensPerSecond: 310.4, tau: 2.61, latencyMs: { p50: 120, p95: 240 }, firstTokenMs: { p50: 30, p95: 60 }, reusedShare: 0.9 },
    calibration: { plainTokensPerSecond: 147.8, decoderTokensPerSecond: 300, tau: 2.5, tokens: 48, runs: 3, at: 0 },
    speedup: 310.4 / 147.8, memory: { rssBytes: 3e8, heapUsedBytes: 1e7 }, uptimeMs: 5000,
  });
  it('shows the measured speed-up, tokens/s and τ when speculative; plain speed otherwise', () => {
    assert.equal(statusView({ kind: 'ready' }, stats('speculative')).text, `$(zap) 2.1× · \u2007310 tok/s · τ 2.6`);
    assert.equal(statusView({ kind: 'ready' }, stats('plain')).text, '$(zap) plain · \u2007310 tok/s');
    assert.match(statusView({ kind: 'ready' }, stats('plain')).tooltip, /147\.8 tokens\/s \(calibrated\)/);
    // Speculation configured but measured slower here: the item says plain, the tooltip says why.
    const slower = { ...stats('speculative'), decoding: { mode: 'speculative' as const, active: 'plain' as const, note: 'speculative decoding measured slower' } };
    assert.equal(statusView({ kind: 'ready' }, slower).text, '$(zap) plain · \u2007310 tok/s');
    assert.match(statusView({ kind: 'ready' }, slower).tooltip, /measured slower/);
  });
  it('keeps its width while the numbers change (figure-space padding)', () => {
    const width = (tps: number) => statusView({ kind: 'ready' }, { ...stats('speculative'), recent: { ...stats('speculative').recent, tokensPerSecond: tps } }).text.length;
    assert.equal(width(9), width(310));
    assert.equal(width(1234), width(310));
    assert.equal(statusView({ kind: 'building', fraction: 0.05 }).text.length, statusView({ kind: 'building', fraction: 1 }).text.length);
  });
  it('has loading, building, unloaded, error and no-model states; every click opens the menu', () => {
    assert.match(statusView({ kind: 'loading', model: 'm.gguf' }).text, /^\$\(sync~spin\) .*loading/);
    assert.match(statusView({ kind: 'building', fraction: 0.42 }).text, /vocabulary\s+42%/);
    assert.match(statusView({ kind: 'unloaded' }).text, /unloaded/);
    const err = statusView({ kind: 'error', message: 'boom' });
    assert.ok(err.error && /boom/.test(err.tooltip));
    for (const v of [err, statusView({ kind: 'no-model' }), statusView({ kind: 'ready' }, stats('plain'))]) assert.equal(v.command, 'frspec.showMenu');
  });
  it('says when the user turned suggestions off or snoozed them, over the engine state', () => {
    const off = statusView({ kind: 'ready' }, stats('plain'), { disabled: 'language', languageId: 'python' });
    assert.equal(off.text, '$(circle-slash) FR-Spec: off');
    assert.match(off.tooltip, /disabled for Python/);
    assert.deepEqual(['typescript', 'cpp', 'shellscript', 'zig'].map(languageName), ['TypeScript', 'C++', 'Shell Script', 'zig']);
    assert.match(statusView({ kind: 'ready' }, undefined, { snoozed: '5 min' }).text, /^\$\(clock\) FR-Spec: snoozed 5 min$/);
    assert.ok(statusView({ kind: 'error', message: 'x' }, undefined, { snoozed: '5 min' }).error, 'an engine error shows through a snooze');
  });
  it('the statistics report names every figure', () => {
    const r = statisticsReport(stats('speculative'), '/m.gguf');
    for (const s of ['310.4 tokens/s', 'τ (tokens per target pass): 2.61', 'p50 120 ms, p95 240 ms', 'plain decoding: 147.8 tokens/s', 'measured speed-up', '2.10×']) assert.ok(r.includes(s), s);
  });
  it('names the drafter by its file name in the tooltip (the report keeps the path)', () => {
    const s = { ...stats('speculative'), decoding: { mode: 'speculative' as const, active: 'speculative' as const, drafter: 'EAGLE head /home/u/.cache/models/demo-eagle.gguf' } };
    assert.match(statusView({ kind: 'ready' }, s).tooltip, /^FR-Spec Complete — speculative decoding \(EAGLE head demo-eagle\.gguf\)/);
    assert.match(statisticsReport(s, '/m.gguf'), /with EAGLE head \/home\/u\/\.cache\/models\/demo-eagle\.gguf/);
    assert.equal(drafterName('draft model C:\\models\\qwen 0.5b.gguf'), 'draft model qwen 0.5b.gguf');
    assert.equal(drafterName('something else'), 'something else');
  });
  it('the statistics report gives the acceptance by draft position when the sidecar reports it', () => {
    const withPositions = { ...stats('speculative'), recent: { ...stats('speculative').recent, draftedAt: [120, 100, 0], acceptedAt: [80, 40, 0] } };
    assert.match(statisticsReport(withPositions, '/m.gguf'), /\n {2}accepted by draft position: 1: 67% \(80\/120\) · 2: 40% \(40\/100\) · 3: – \(0\/0\)\n/);
    assert.doesNotMatch(statisticsReport(stats('speculative'), '/m.gguf'), /draft position/);
  });
  it('the statistics report claims no speed-up while plain decoding is active', () => {
    const plain = statisticsReport(stats('plain'), '/m.gguf');
    assert.ok(!/speed-up/.test(plain), plain);
    const slower = statisticsReport({ ...stats('speculative'), calibration: { ...stats('plain').calibration!, decoderTokensPerSecond: 120 },
      decoding: { mode: 'speculative', active: 'plain', note: 'speculative decoding measured slower' } }, '/m.gguf');
    assert.ok(!/measured speed-up/.test(slower), slower);
    assert.match(slower, /speculative decoding is off: calibrated at 0\.81× plain decoding/);
  });
  it('keys the vocabulary file by workspace and tokenizer', () => {
    const a = vocabFileFor('/s', '/w/proj', 'f1'), b = vocabFileFor('/s', '/w/proj', 'f2'), c = vocabFileFor('/s', '/w/other', 'f1');
    assert.ok(a.startsWith('/s/vocab/proj-') && a.endsWith('.frv'));
    assert.equal(new Set([a, b, c]).size, 3);
    assert.equal(vocabFileFor('/s', '/w/proj/', 'f1'), a);
  });
});
