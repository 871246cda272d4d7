// Workspace settings must not steer native code (issue 13, item 7): in an untrusted workspace the path
// settings come from the user only (capabilities.untrustedWorkspaces, restrictedConfigurations); path and
// machine settings are machine-overridable (a synced or workspace setting cannot name files on this
// machine unless overridden here); threads and the context size are bounded by this machine.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { boundContextSize, boundThreads, maxContextSize } from '../../extension/machine-limits';
import { repoRoot } from '../helpers/shared';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const PATH_SETTINGS = ['frspec.model', 'frspec.draftModel', 'frspec.eagleModel', 'frspec.modelFolders'];

describe('workspace trust and machine bounds (issue 13, item 7)', () => {
  it('declares limited support for untrusted workspaces, restricting every path setting', () => {
    const u = pkg.capabilities?.untrustedWorkspaces;
    assert.equal(u?.supported, 'limited');
    for (const key of PATH_SETTINGS) assert.ok(u.restrictedConfigurations.includes(key), `${key} is restricted`);
  });

  it('path and machine settings are machine-overridable', () => {
    const props = pkg.contributes.configuration.properties;
    for (const key of [...PATH_SETTINGS, 'frspec.threads', 'frspec.contextSize']) assert.equal(props[key]?.scope, 'machine-overridable', key);
  });

  it('threads and contextSize are bounded by the machine (cores, memory)', () => {
    assert.equal(boundThreads(1024, 2), 2);
    assert.equal(boundThreads(0, 2), 0);
    assert.equal(boundThreads(-3, 2), 0);
    assert.ok(boundThreads(1024) <= os.availableParallelism());
    assert.equal(maxContextSize(24e9), 16384);
    assert.equal(boundContextSize(131072, 24e9), 16384);
    assert.equal(boundContextSize(131072, 2e12), 131072);
    assert.equal(boundContextSize(4096, 2e9), 4096);
    assert.equal(boundContextSize(100, 24e9), 512);
    assert.equal(boundContextSize(1.5, 24e9), 4096);
  });
});
