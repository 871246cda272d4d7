// The client never waits forever (issue 13, item 2), with the real sidecar process and demo model: a
// sidecar that stops answering (SIGSTOP: a wedged process) makes the request settle by its deadline and is
// killed and restarted like a crashed one; a model that cannot be loaded again after a restart is reported
// once and leaves the client in an error state (requests fail at once, naming the reason) that
// `initialize` (a settings change) and `restart` (Restart Engine) leave.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type SidecarDeath, SidecarDiedError, SidecarInitError, SidecarTimeoutError } from '../../extension/client/sidecar-client';
import { demoModel, requireShared } from '../helpers/shared';
import { startClient } from './sidecar-helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-client-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what} did not settle within ${ms} ms`)), ms))]);
const parts = ['def add(a, b):\n    return'];

describe('sidecar client: deadlines and the error state (issue 13, item 2)', function () {
  this.timeout(120000);

  it('a sidecar that stops answering: the request settles by its deadline, the process is killed and restarted, the next request succeeds', async function () {
    requireShared(this);
    const deaths: SidecarDeath[] = [];
    let readies = 0;
    const client = startClient({ backoffMs: [100], deadlinesMs: { complete: 1500, stats: 1500 }, livenessMs: 1000, onDied: (d) => deaths.push(d), onReady: () => readies++ });
    try {
      await client.initialize({ model: demoModel('demo-target')!, threads: 2, contextSize: 1024, calibrate: false });
      const pid = client.pid!;
      process.kill(pid, 'SIGSTOP');  // wedged: alive, reads nothing, answers nothing
      const t0 = Date.now();
      await within(assert.rejects(client.complete({ parts, maxTokens: 4 }), SidecarTimeoutError), 5000, 'complete()');
      assert.ok(Date.now() - t0 < 2500, `settled after ${Date.now() - t0} ms`);
      // stats() too settles: by its deadline, or when the wedged process is killed.
      await within(assert.rejects(client.stats(), (e: Error) => e instanceof SidecarTimeoutError || e instanceof SidecarDiedError), 5000, 'stats()');
      while (deaths.length < 1) await new Promise((r) => setTimeout(r, 20));
      assert.equal(deaths[0].signal, 'SIGKILL');
      assert.equal(deaths[0].unresponsive, true);
      assert.equal(deaths.length, 1, 'reported once');
      // Restarted, the model loaded again: the next request succeeds on a new process.
      const t1 = Date.now();
      while (readies < 2 && Date.now() - t1 < 20000) await new Promise((r) => setTimeout(r, 20));
      const r = await within(client.complete({ parts, maxTokens: 4 }), 20000, 'complete() after the restart');
      assert.ok(r.stats.tokens >= 1);
      assert.notEqual(client.pid, pid);
    } finally {
      await client.dispose();
    }
  });

  it('a model that fails to load again after a crash is reported once; requests fail at once; restart and initialize leave the error state', async function () {
    requireShared(this);
    const model = path.join(tmp, 'target.gguf');
    const good = fs.readFileSync(demoModel('demo-target')!);
    fs.writeFileSync(model, good);
    const failures: string[] = [];
    const deaths: SidecarDeath[] = [];
    const client = startClient({ backoffMs: [100], onInitFailed: (m) => failures.push(m), onDied: (d) => deaths.push(d) });
    try {
      await client.initialize({ model, threads: 2, contextSize: 1024, calibrate: false });
      // The model is replaced by a broken download, and the sidecar dies (as it did with SIGBUS).
      fs.writeFileSync(model, good.subarray(0, good.length >> 1));
      process.kill(client.pid!, 'SIGKILL');
      while (failures.length < 1) await new Promise((r) => setTimeout(r, 20));
      assert.match(failures[0], /reloading the model after a restart failed: .*target\.gguf/);
      // Every request now fails at once with the reason, and nothing is reported again.
      for (const call of [() => client.complete({ parts, maxTokens: 2 }), () => client.stats()]) {
        const t0 = Date.now();
        await within(assert.rejects(call(), (e: Error) => e instanceof SidecarInitError && /could not be loaded|restart failed/.test(e.message)), 2000, 'a request in the error state');
        assert.ok(Date.now() - t0 < 500);
      }
      assert.match(client.error!, /target\.gguf/);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(failures.length, 1, 'reported once');
      assert.equal(deaths.length, 1);
      // Restart Engine with the file still broken: it fails, still in the error state.
      await assert.rejects(client.restart(), SidecarInitError);
      // The download completes; Restart Engine leaves the error state.
      fs.writeFileSync(model, good);
      await within(client.restart(), 30000, 'restart()');
      assert.equal(client.error, undefined);
      assert.ok((await client.complete({ parts, maxTokens: 2 })).stats.tokens >= 1);
      // Broken again, then a settings change (initialize with another model) leaves the error state too.
      fs.writeFileSync(model, good.subarray(0, 1000));
      process.kill(client.pid!, 'SIGKILL');
      while (failures.length < 3) await new Promise((r) => setTimeout(r, 20));
      await assert.rejects(client.complete({ parts, maxTokens: 2 }), SidecarInitError);
      await client.initialize({ model: demoModel('demo-target')!, threads: 2, contextSize: 1024, calibrate: false });
      assert.ok((await client.complete({ parts, maxTokens: 2 })).stats.tokens >= 1);
    } finally {
      await client.dispose();
    }
  });
});
