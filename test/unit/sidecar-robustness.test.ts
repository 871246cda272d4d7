// Robustness of the sidecar and its client, with the real process and demo model: a sidecar killed with
// SIGKILL mid-request is noticed, reported once and restarted with backoff, and the next request succeeds;
// a typing simulation of 1000 requests, ~90% of them cancelled, leaves the sidecar's memory flat.
import { strict as assert } from 'node:assert';
import { type SidecarDeath, SidecarDiedError } from '../../extension/client/sidecar-client';
import { rpc } from '../../sidecar/jsonrpc';
import { ErrorCode } from '../../sidecar/protocol';
import { percentile } from '../../sidecar/stats';
import { demoModel, requireShared } from '../helpers/shared';
import { fim, startClient } from './sidecar-helpers';


// What a user types: a Python module, one keystroke at a time.
const SOURCE = `import json
import os
from dataclasses import dataclass, field


@dataclass
class Settings:
    """Settings of the tool, read from a JSON file beside the project."""
    threads: int = 0
    context_size: int = 4096
    max_tokens: int = 64
    languages: list = field(default_factory=list)

    @classmethod
    def load(cls, path):
        if not os.path.exists(path):
            return cls()
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.__dict__, f, indent=2)


def main():
    settings = Settings.load("settings.json")
    print(settings)
    settings.max_tokens = settings.max_tokens * 2
    settings.save("settings.json")
    for language in settings.languages:
        print("enabled:", language)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
`;

describe('sidecar robustness (real process, demo model)', function () {
  this.timeout(180000);

  it('a sidecar killed mid-request is reported once, restarted with backoff, and the next request succeeds', async function () {
    requireShared(this);
    const deaths: SidecarDeath[] = [];
    const client = startClient({ backoffMs: [200, 1000], onDied: (d) => deaths.push(d) });
    try {
      await client.initialize({ model: demoModel('demo-target')!, threads: 2, contextSize: 1024, calibrate: false });
      const firstPid = client.pid!;
      let killedAt = 0;
      const inFlight = client.complete({ parts: fim(SOURCE.slice(0, 300), ''), maxTokens: 250 }, undefined, () => {
        if (!killedAt) { killedAt = Date.now(); process.kill(firstPid, 'SIGKILL'); }
      });
      await assert.rejects(inFlight, (e: Error) => e instanceof SidecarDiedError && /stopped during 'complete'/.test(e.message));
      assert.ok(killedAt > 0);
      // The next request waits for the restart and the model reload, then succeeds.
      const r = await client.complete({ parts: fim(SOURCE.slice(0, 300), ''), maxTokens: 4 });
      assert.ok(r.stats.tokens >= 1);
      assert.equal(deaths.length, 1, 'reported once');
      assert.equal(deaths[0].signal, 'SIGKILL');
      assert.equal(deaths[0].restartInMs, 200);
      assert.equal(client.restarts, 1);
      assert.notEqual(client.pid, firstPid);
      // A second death backs off longer.
      process.kill(client.pid!, 'SIGKILL');
      while (deaths.length < 2) await new Promise((r) => setTimeout(r, 10));
      const r2 = await client.complete({ parts: ['x = 1\n'], maxTokens: 2 });
      assert.ok(r2.stats.promptTokens > 0);
      assert.equal(deaths.length, 2);
      assert.equal(deaths[1].restartInMs, 1000);
    } finally {
      await client.dispose();
    }
  });

  it('typing 1000 requests with ~90% cancelled keeps memory flat; latency p50/p95 reported', async function () {
    requireShared(this);
    const client = startClient();
    const N = 1000, WARMUP = 200;
    try {
      await client.initialize({ model: demoModel('demo-target')!, threads: 2, contextSize: 1024, calibrate: false });
      const latencies: number[] = [];
      let cancelled = 0, completed = 0, rssWarm = 0;
      const start = 180;  // the cursor starts inside the class, as after opening the file
      let previous: { src: InstanceType<typeof rpc.CancellationTokenSource>; p: Promise<unknown> } | undefined;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        const at = start + (i % (SOURCE.length - start));
        // What VS Code does on a keystroke: cancel the previous request's token, then ask again.
        previous?.src.cancel();
        const src = new rpc.CancellationTokenSource();
        const sent = performance.now();
        const p = client.complete({ parts: fim(SOURCE.slice(0, at), SOURCE.slice(at, at + 200)), maxTokens: 4, maxLines: 1 }, src.token).then(
          () => { completed++; latencies.push(performance.now() - sent); },
          (e) => { if ((e as { code?: number }).code === ErrorCode.RequestCancelled) cancelled++; else throw e; },
        );
        if (i % 10 === 9) await p;  // the user pauses: this one completes
        else await new Promise((r) => setTimeout(r, 2));  // the next keystroke arrives first
        previous = { src, p };
        if (i === WARMUP) rssWarm = (await client.stats()).memory.rssBytes;
      }
      await previous?.p;
      const s = await client.stats();
      const rssEnd = s.memory.rssBytes;
      const mb = (n: number) => (n / 1e6).toFixed(1);
      console.log(`      ${N} requests in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${completed} completed, ${cancelled} cancelled; ` +
        `latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms; ` +
        `sidecar RSS ${mb(rssWarm)} MB after ${WARMUP} → ${mb(rssEnd)} MB after ${N}`);
      assert.equal(completed + cancelled, N);
      assert.ok(cancelled >= 0.85 * N, `${cancelled} cancelled`);
      assert.ok(completed >= 0.09 * N, `${completed} completed`);
      assert.ok(Math.abs(rssEnd - rssWarm) <= 0.1 * rssWarm, `RSS went from ${mb(rssWarm)} to ${mb(rssEnd)} MB`);
      assert.equal(s.requests.received, N);
    } finally {
      await client.dispose();
    }
  });
});
