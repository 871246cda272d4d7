// The bundled command line (dist/cli.js, what `npm start` and `npx frspec` run) loads and lists every
// command: esbuild puts all modules in one file, so a module-level side effect can break it while the
// sources, which the other suites run through tsx, still work.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/shared';

describe('bundled CLI (dist/cli.js)', () => {
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  before(function () {
    if (!fs.existsSync(cli)) execFileSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot });
  });

  it('prints the command list and exits 0 with --help', () => {
    const out = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    for (const cmd of ['demo', 'inspect', 'tokenize', 'vocab build', 'vocab stats', 'generate']) assert.match(out, new RegExp(`\\n  ${cmd} `));
  });

  it('gives a one-line reason and exit 2 for an unknown command', () => {
    const r = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });
});
