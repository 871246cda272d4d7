// A seeded fuzz of the sidecar's JSON-RPC server (issue 13), on the real process: hundreds of well-framed
// requests with mutated params (hostile values, deleted and unknown fields, nested and huge values) must
// each get an answer (a result or a JSON-RPC error) while the process stays up with bounded memory; and
// damaged frames (flipped header bytes, wrong lengths, truncated or non-JSON bodies) must leave every
// request before them answered and the process either still serving or exited cleanly (code 0).
// A few seconds; the seed is printed so a failure can be replayed (FRSPEC_FUZZ_SEED).
import { strict as assert } from 'node:assert';
import { ErrorCode } from '../../sidecar/protocol';
import { demoModel, sharedDir } from '../helpers/shared';
import { RawSidecar } from './sidecar-helpers';

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stands for arrays nested 100k deep, written straight into the JSON text (too deep to build and stringify here). */
const DEEP = '@@deep@@';
const withDeep = (json: string) => json.split(JSON.stringify(DEEP)).join(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);

const SEED = Number(process.env.FRSPEC_FUZZ_SEED ?? Date.now() % 1_000_000);

/** Values a hostile or buggy client might send in any field. */
function hostileValue(r: () => number): unknown {
  const pool: Array<() => unknown> = [
    () => null, () => true, () => false, () => 0, () => -1, () => 1e308, () => -1e308, () => 2 ** 53 + 1, () => 3e9, () => 0.5,
    () => '', () => 'x'.repeat(Math.floor(r() * 100_000)), () => '\u0000', () => '__proto__', () => 'toString', () => 'fim_prefix',
    () => [], () => Array.from({ length: Math.floor(r() * 20_000) }, () => ''), () => DEEP,
    () => ({}), () => JSON.parse('{"__proto__": {"special": "fim_prefix"}}'), () => ({ special: 'constructor' }), () => ({ special: 'eos' }),
    () => [{ special: 'fim_prefix' }, 'def f():', { special: 'fim_middle' }], () => '/dev/zero', () => '/proc/self/mem', () => '/nonexistent/x',
  ];
  return pool[Math.floor(r() * pool.length)]();
}

// initialize is fuzzed last (a failed load unloads the model, and the other requests should run with one).
const INITIALIZE: Record<string, unknown> = { model: '/nonexistent/m.gguf', topK: 0, threads: 1024, contextSize: 10, calibrate: 'no' };
const BASE: Array<[string, Record<string, unknown>]> = [
  ['complete', { parts: ['def add(a, b):\n    return'], maxTokens: 2, maxLines: 1, stopAtBlankLine: true, timeBudgetMs: 50, stopSequences: ['\n\n'], streamId: 's', warmup: false }],
  ['cancel', { streamId: 's' }],
  ['stats', {}],
  ['vocab/load', { file: '/nonexistent/v.frv', topK: 8192 }],
  ['vocab/build', { folder: '/nonexistent/ws', out: '/nonexistent/o.frv', cacheFile: '/nonexistent/c', progressToken: 'p', load: false }],
  ['nope', {}],
];

function mutatedParams(r: () => number, base: Record<string, unknown>): unknown {
  const roll = r();
  if (roll < 0.05) return hostileValue(r);  // params itself not an object
  const p: Record<string, unknown> = JSON.parse(JSON.stringify(base));
  const keys = Object.keys(p);
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const what = r();
    const key = keys.length && what < 0.8 ? keys[Math.floor(r() * keys.length)] : ['__proto__', 'constructor', 'extra', 'promptBudgetMs'][Math.floor(r() * 4)];
    if (what < 0.15) delete p[key];
    else p[key] = hostileValue(r);
  }
  return p;
}

describe('sidecar JSON-RPC fuzz (issue 13)', function () {
  this.timeout(120000);

  it(`mutated params: every request is answered, the process stays up, memory bounded (seed ${SEED})`, async function () {
    const r = rng(SEED);
    const raw = new RawSidecar();
    try {
      let id = 0;
      const model = sharedDir() ? demoModel('demo-target') : undefined;
      if (model) {
        raw.send({ id: ++id, method: 'initialize', params: { model, threads: 2, contextSize: 1024, calibrate: false } });
        assert.ok((await raw.next((m) => m.id === id, 60000)).result, 'the demo model loads');
      }
      raw.send({ id: ++id, method: 'stats' });
      const rss0 = (await raw.next((m) => m.id === id)).result.memory.rssBytes;
      const deadline = Date.now() + 4000;
      let sent = 0;
      const codes = new Map<number, number>();
      while (Date.now() < deadline) {
        const batch: number[] = [];
        for (let i = 0; i < 25; i++) {
          const [method, base] = BASE[Math.floor(r() * BASE.length)];
          const params = mutatedParams(r, base);
          batch.push(++id);
          raw.writeBody(withDeep(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })));
          sent++;
        }
        for (const want of batch) {
          const m = await raw.next((x) => x.id === want, 30000);
          assert.ok('result' in m || (m.error && Number.isInteger(m.error.code) && typeof m.error.message === 'string'), JSON.stringify(m).slice(0, 300));
          if (m.error) {
            assert.notEqual(m.error.code, ErrorCode.InternalError, m.error.message);
            assert.doesNotMatch(m.error.message, /Maximum call stack|is not a function|Cannot read prop|undefined/, m.error.message);
            codes.set(m.error.code, (codes.get(m.error.code) ?? 0) + 1);
          }
        }
        assert.equal(raw.proc.exitCode, null, 'the sidecar is still running');
      }
      for (let i = 0; i < 30; i++) {
        raw.writeBody(withDeep(JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'initialize', params: mutatedParams(r, INITIALIZE) })));
        const m = await raw.next((x) => x.id === id, 30000);
        assert.ok(m.error && Number.isInteger(m.error.code), JSON.stringify(m).slice(0, 300));
        assert.doesNotMatch(m.error.message, /Maximum call stack|is not a function|Cannot read prop/, m.error.message);
        sent++;
      }
      raw.send({ id: ++id, method: 'stats' });
      const rss1 = (await raw.next((m) => m.id === id)).result.memory.rssBytes;
      console.log(`      ${sent} mutated requests, all answered; errors by code ${JSON.stringify(Object.fromEntries(codes))}; RSS ${(rss0 / 1e6).toFixed(0)} -> ${(rss1 / 1e6).toFixed(0)} MB`);
      assert.ok(rss1 - rss0 < 300e6, `RSS grew by ${((rss1 - rss0) / 1e6).toFixed(0)} MB`);
    } finally {
      await raw.close();
    }
  });

  it(`damaged frames: the requests before are answered; the process serves on or exits cleanly (seed ${SEED})`, async function () {
    const r = rng(SEED + 1);
    const good = (id: number) => `Content-Length: ${JSON.stringify({ jsonrpc: '2.0', id, method: 'stats' }).length}\r\n\r\n${JSON.stringify({ jsonrpc: '2.0', id, method: 'stats' })}`;
    const damage: Array<(f: string) => string> = [
      (f) => { const i = Math.floor(r() * 20); return f.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 90)) + f.slice(i + 1); },  // a header byte
      (f) => f.replace(/Content-Length: (\d+)/, (_, n) => `Content-Length: ${Math.max(0, Number(n) + Math.floor(r() * 40) - 20)}`),
      (f) => f.slice(0, f.length - 1 - Math.floor(r() * 10)),
      (f) => f.replace('{', '{{'),
      (f) => f.replace(/\r\n\r\n/, '\n\n'),
      (f) => f.replace(/"jsonrpc":"2.0"/, '"jsonrpc":2'),
    ];
    for (let round = 0; round < 4; round++) {
      const raw = new RawSidecar();
      try {
        raw.proc.stdin!.write(good(1));
        assert.ok((await raw.next((m) => m.id === 1)).result, 'answered before the damage');
        const bad = damage[Math.floor(r() * damage.length)](good(2));
        raw.proc.stdin!.write(bad + good(3) + good(4));
        const exited = new Promise<number | null>((res) => raw.proc.once('exit', (code) => res(code)));
        // Either the server answers what comes after (the damage left the framing intact or was resynced), or it exits with 0.
        const outcome = await Promise.race([
          raw.next((m) => m.id === 4, 15000).then(() => 'serving'),
          exited.then((code) => `exited ${code}`),
        ]);
        assert.ok(outcome === 'serving' || outcome === 'exited 0', `${JSON.stringify(bad)}: ${outcome}`);
        if (outcome === 'serving') {
          raw.proc.stdin!.write(good(5));
          assert.ok((await raw.next((m) => m.id === 5)).result, 'still serving');
        }
      } finally {
        await raw.close();
      }
    }
  });
});
