// The folder walk and the file rules, on temporary folders: .gitignore (nested, negation), skipped
// folders, name and size rules, symlink loops and duplicates; content rules on bytes and text.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeSource, defaultRules, skipByName, skipByText } from '../../vocab/rules';
import { walkFolder } from '../../vocab/walk';

/** Creates files under a fresh temp folder from a map path → content. */
export function makeTree(files: Record<string, string | Uint8Array>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-vocab-'));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  return root;
}

describe('vocab walk', () => {
  let root: string;
  afterEach(() => { if (root) fs.rmSync(root, { recursive: true, force: true }); });

  it('respects nested .gitignore files with negation, and skips .git and node_modules', () => {
    root = makeTree({
      '.gitignore': '*.log\nbuild/\n!keep.log\n/only-root.ts\n',
      'a.ts': 'export const a = 1;\n',
      'x.log': 'ignored\n',
      'keep.log': 'kept by negation\n',
      'only-root.ts': 'anchored pattern: ignored here\n',
      'build/out.js': 'ignored folder\n',
      'sub/.gitignore': '!debug.log\nlocal.ts\n',
      'sub/debug.log': 're-included by the deeper file\n',
      'sub/other.log': 'still ignored by the root file\n',
      'sub/local.ts': 'ignored by the nested file\n',
      'sub/only-root.ts': 'the root pattern is anchored, so this is kept\n',
      'local.ts': 'the nested pattern does not apply at the root\n',
      'sub/deeper/build/x.ts': 'build/ matches at any depth\n',
      '.git/config': '[core]\n',
      'node_modules/pkg/index.js': 'module.exports = 1;\n',
    });
    const { files, skipped } = walkFolder(root);
    assert.deepEqual(files.map((f) => f.rel), [
      '.gitignore', 'a.ts', 'keep.log', 'local.ts', 'sub/.gitignore', 'sub/debug.log', 'sub/only-root.ts',
    ]);
    assert.equal(skipped['ignored-folder'], 2);
    assert.equal(skipped.gitignored, 6);  // x.log, only-root.ts, build/, sub/other.log, sub/local.ts, sub/deeper/build/
    const a = files.find((f) => f.rel === 'a.ts')!;
    assert.equal(a.size, 20);
    assert.equal(a.abs, path.join(root, 'a.ts'));
  });

  it('skips lockfiles, minified names and files over the size limit before reading them', () => {
    root = makeTree({
      'package-lock.json': '{}',
      'lib/app.min.js': 'a',
      'lib/app.js.map': '{}',
      'big.ts': 'x'.repeat(2001),
      'small.ts': 'x'.repeat(2000),
    });
    const { files, skipped } = walkFolder(root, { ...defaultRules, maxFileBytes: 2000 });
    assert.deepEqual(files.map((f) => f.rel), ['small.ts']);
    assert.deepEqual(skipped, { lockfile: 1, minified: 2, 'too-large': 1 });
  });

  it('follows symlinks once: no loops, no file counted twice, broken links skipped', () => {
    root = makeTree({ 'src/a.ts': 'a\n', 'src/deep/b.ts': 'b\n' });
    fs.symlinkSync('..', path.join(root, 'src', 'deep', 'up'));           // loop back to src/
    fs.symlinkSync(path.join(root, 'src'), path.join(root, 'alias'));      // the same folder again
    fs.symlinkSync('a.ts', path.join(root, 'src', 'same.ts'));            // the same file again
    fs.symlinkSync('missing.ts', path.join(root, 'src', 'broken.ts'));
    const outside = makeTree({ 'lib.ts': 'outside\n' });
    try {
      fs.symlinkSync(outside, path.join(root, 'vendor'));                  // a real folder elsewhere: followed
      const { files, skipped } = walkFolder(root);
      // 'alias' sorts first, so the shared folder is found through it; each real file appears once.
      assert.deepEqual(files.map((f) => f.rel), ['alias/a.ts', 'alias/deep/b.ts', 'vendor/lib.ts']);
      assert.equal(skipped['duplicate-folder'], 2);  // the loop alias/deep/up, and src after alias
      assert.equal(skipped['duplicate-file'], 1);      // alias/same.ts → alias/a.ts
      assert.equal(skipped['broken-link'], 1);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('stops when aborted and reports a missing or non-folder root clearly', () => {
    root = makeTree({ 'a.ts': 'a' });
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    assert.throws(() => walkFolder(root, defaultRules, ac.signal), /stop now/);
    assert.throws(() => walkFolder(path.join(root, 'nope')), /ENOENT.*nope/);
    assert.throws(() => walkFolder(path.join(root, 'a.ts')), /a\.ts is not a folder/);
  });
});

describe('vocab file rules', () => {
  it('recognizes binaries and non-UTF-8 bytes', () => {
    assert.deepEqual(decodeSource(Buffer.from('int main() {}\n')), { text: 'int main() {}\n' });
    assert.deepEqual(decodeSource(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x00, 0x01])), { skip: 'binary' });
    assert.deepEqual(decodeSource(Buffer.from([0x61, 0xff, 0xfe, 0x62])), { skip: 'not-utf8' });
    assert.deepEqual(decodeSource(Buffer.from('caf\u00e9 \u{1F600}\n')), { text: 'caf\u00e9 \u{1F600}\n' });
  });

  it('recognizes minified text by the share of long lines, not by one long line', () => {
    const code = 'const x = 1;\n'.repeat(200);
    assert.equal(skipByText(code), undefined);
    assert.equal(skipByText('var a=1;'.repeat(500)), 'minified');
    assert.equal(skipByText(code + 's = "' + 'y'.repeat(1500) + '";\n'), undefined);  // a long literal in real code
    assert.equal(skipByText(code + 's = "' + 'y'.repeat(4000) + '";\n'), 'minified');  // mostly one line
    assert.equal(skipByText('a\0b'), 'binary');
  });

  it('recognizes generated files by a marker in their first lines only', () => {
    assert.equal(skipByText('// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n'), 'generated');
    assert.equal(skipByText('/* @generated */\nexport {};\n'), 'generated');
    assert.equal(skipByText('"""Codec generated from MAPPINGS."""\n'), 'generated');
    assert.equal(skipByText('a\nb\nc\nd\ne\n# this file was auto-generated\n'), undefined);
    assert.equal(skipByText('def generate(): pass\n'), undefined);
  });

  it('knows lockfiles and minified names', () => {
    assert.equal(skipByName('x/yarn.lock'), 'lockfile');
    assert.equal(skipByName('Cargo.lock'), 'lockfile');
    assert.equal(skipByName('dist/vendor.min.js'), 'minified');
    assert.equal(skipByName('src/minify.js'), undefined);
  });
});
