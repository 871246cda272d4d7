// Keystroke -> suggestion latency through the real sidecar (sidecar, spawned as the extension does,
// over JSON-RPC): typing is replayed on FIM prompts of ../shared/corpus/dev.jsonl.xz — the cursor at the
// start of a file's middle line, that line typed one character every `--interval` ms, each keystroke a
// `complete` request that supersedes the one before (the editor does not wait) — once per decoder
// configuration (plain, draft model + FR-Spec, ...). Reports per configuration: the requests that were
// served (not superseded) with their queue / prompt / decode / total ms, the decoding tokens/s, the latency
// of the last keystroke of each line (what the user waits for when they pause), and which decoder served.
// The configurations' sidecars run side by side and type the same lines in turn (line by line), so load on
// the machine hits them alike. (`frspec bench typing` is the fuller replay, one configuration per run.)
//
//   npx tsx bench/keystroke-latency.ts [--files 12] [--chars 8] [--interval 90] [--configs plain,draft]
//     [--vocab V.frv] [--top-k 8192] [--threads 2] [--max-tokens 48] [--json]
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SidecarClient } from '../extension/client/sidecar-client';
import type { CompleteResult, InitializeParams, PromptPart } from '../sidecar/protocol';
import { demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';

const { values: a } = parseArgs({
  options: {
    files: { type: 'string', default: '12' }, chars: { type: 'string', default: '8' }, interval: { type: 'string', default: '90' },
    configs: { type: 'string', default: 'plain,draft' }, vocab: { type: 'string' }, 'top-k': { type: 'string', default: '8192' },
    threads: { type: 'string', default: '2' }, 'max-tokens': { type: 'string', default: '48' }, 'time-budget': { type: 'string' },
    'prompt-budget': { type: 'string' }, json: { type: 'boolean', default: false },
  },
});

interface Line { prefix: string; typed: string; suffix: string }
interface Served { stats: CompleteResult['stats']; last: boolean }

const fim = (prefix: string, suffix: string): PromptPart[] => [{ special: 'fim_prefix' }, prefix, { special: 'fim_suffix' }, suffix, { special: 'fim_middle' }];
const median = (xs: number[]) => { const v = [...xs].sort((x, y) => x - y); return v.length ? v[Math.floor((v.length - 1) / 2)] : 0; };
const pct = (xs: number[], p: number) => { const v = [...xs].sort((x, y) => x - y); return v.length ? v[Math.min(v.length - 1, Math.ceil(p / 100 * v.length) - 1)] : 0; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function lines(n: number, chars: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const f of readJsonlCorpus(path.join(sharedDir()!, 'corpus', 'dev.jsonl.xz'))) {
    const ls = f.text.split('\n');
    if (ls.length < 12) continue;
    const cut = Math.floor(ls.length / 2);
    const typed = ls[cut].slice(0, chars);
    if (typed.trim().length < 2) continue;
    let prefix = ls.slice(0, cut).join('\n') + '\n';
    if (prefix.length > 4000) prefix = prefix.slice(prefix.indexOf('\n', prefix.length - 4000) + 1);  // extension defaults
    let suffix = '\n' + ls.slice(cut + 1).join('\n');
    if (suffix.length > 1000) suffix = suffix.slice(0, suffix.lastIndexOf('\n', 1000) + 1);
    out.push({ prefix, typed, suffix });
    if (out.length >= n) break;
  }
  return out;
}

async function start(config: string): Promise<SidecarClient> {
  const target = demoModel('demo-target')!;
  const init: InitializeParams = { model: target, threads: Number(a.threads), contextSize: 4096, calibrate: true };
  if (config === 'draft') Object.assign(init, { draft: demoModel('demo-draft')!, vocab: a.vocab, topK: Number(a['top-k']) });
  if (config === 'eagle') Object.assign(init, { eagle: demoModel('demo-eagle')!, vocab: a.vocab, topK: Number(a['top-k']) });
  const client = new SidecarClient({ entry: path.join(__dirname, '..', 'sidecar', 'entry.ts'), execArgv: ['--import', 'tsx'] });
  client.start();
  await client.initialize(init);
  // Calibration runs in the background after loading, as it would while the user reads: let it finish.
  for (let i = 0; i < 60 && !(await client.stats()).calibration; i++) await sleep(500);
  return client;
}

/** Types one line through `client` the way the editor sends it; returns the served completions. */
async function typeLine(client: SidecarClient, l: Line, served: Served[]): Promise<number> {
  let superseded = 0;
  const budgets = { ...(a['time-budget'] ? { timeBudgetMs: Number(a['time-budget']) } : {}), ...(a['prompt-budget'] ? { promptBudgetMs: Number(a['prompt-budget']) } : {}) };
  // The file gets focus: the extension primes the cache with the prompt at the cursor.
  await client.complete({ parts: fim(l.prefix, l.suffix), maxTokens: 1, warmup: true });
  const pending: Promise<void>[] = [];
  for (let i = 1; i <= l.typed.length; i++) {
    const last = i === l.typed.length;
    pending.push(client.complete({ parts: fim(l.prefix + l.typed.slice(0, i), l.suffix), maxTokens: Number(a['max-tokens']), stopAtBlankLine: true, ...budgets })
      .then((r) => { served.push({ stats: r.stats, last }); }, () => { superseded++; }));
    if (!last) await sleep(Number(a.interval));
  }
  await Promise.all(pending);
  return superseded;
}

/** Every configuration's sidecar types the same lines, interleaved line by line (load changes hit all alike). */
async function replay(configs: string[], work: Line[]) {
  const clients: SidecarClient[] = [];
  try {
    for (const c of configs) clients.push(await start(c));
    const served = configs.map(() => [] as Served[]);
    const superseded = configs.map(() => 0);
    for (const l of work)
      for (let k = 0; k < configs.length; k++) superseded[k] += await typeLine(clients[k], l, served[k]);
    const out = [];
    for (let k = 0; k < configs.length; k++) {
      const st = await clients[k].stats();
      const s = served[k].map((x) => x.stats);
      const lastOnes = served[k].filter((x) => x.last).map((x) => x.stats);
      const tokens = s.reduce((t, x) => t + x.tokens, 0), decodeMs = s.reduce((t, x) => t + x.decodeMs, 0);
      out.push({
        config: configs[k], served: s.length, superseded: superseded[k], modes: { plain: s.filter((x) => x.mode === 'plain').length, speculative: s.filter((x) => x.mode === 'speculative').length },
        decodeTokensPerSecond: tokens / (decodeMs / 1000), tokens,
        queueMs: { p50: median(s.map((x) => x.queueMs)), p90: pct(s.map((x) => x.queueMs), 90), max: Math.max(...s.map((x) => x.queueMs)) },
        promptMs: { p50: median(s.map((x) => x.promptMs)), p90: pct(s.map((x) => x.promptMs), 90) },
        decodeMs: { p50: median(s.map((x) => x.decodeMs)), p90: pct(s.map((x) => x.decodeMs), 90) },
        totalMs: { p50: median(s.map((x) => x.totalMs)), p90: pct(s.map((x) => x.totalMs), 90), mean: s.reduce((t, x) => t + x.totalMs, 0) / Math.max(1, s.length) },
        lastKeystrokeTotalMs: { p50: median(lastOnes.map((x) => x.totalMs)), p90: pct(lastOnes.map((x) => x.totalMs), 90), mean: lastOnes.reduce((t, x) => t + x.totalMs, 0) / Math.max(1, lastOnes.length) },
        promptTokens: median(s.map((x) => x.promptTokens - x.reusedTokens)),
        decoding: st.decoding, calibration: st.calibration,
        // Why each served request got its decoder (choice.ts), by the reason's first words.
        why: s.reduce((m, x) => { const k = (x.why ?? '-').replace(/[\d.]+/g, '#'); m[k] = (m[k] ?? 0) + 1; return m; }, {} as Record<string, number>),
      });
    }
    return out;
  } finally {
    for (const c of clients) await c.dispose();
  }
}

async function main() {
  if (!sharedDir()) throw new Error('../shared is absent: the demo models and the dev corpus live there');
  const work = await lines(Number(a.files), Number(a.chars));
  const results = await replay(a.configs!.split(','), work);
  for (const r of results) {
    console.log(`${r.config.padEnd(6)} served ${r.served} (superseded ${r.superseded}; plain ${r.modes.plain}, spec ${r.modes.speculative})  decode ${r.decodeTokensPerSecond.toFixed(0)} tok/s  ` +
      `queue p50/p90/max ${r.queueMs.p50.toFixed(1)}/${r.queueMs.p90.toFixed(1)}/${r.queueMs.max.toFixed(1)}  prompt p50 ${r.promptMs.p50.toFixed(1)} (${r.promptTokens} new tokens)  ` +
      `decode p50 ${r.decodeMs.p50.toFixed(1)}  total p50/p90/mean ${r.totalMs.p50.toFixed(1)}/${r.totalMs.p90.toFixed(1)}/${r.totalMs.mean.toFixed(1)}  last keystroke p50/mean ${r.lastKeystrokeTotalMs.p50.toFixed(1)}/${r.lastKeystrokeTotalMs.mean.toFixed(1)} ms`);
  }
  const out = { machine: `${os.cpus()[0]?.model} x${os.cpus().length}`, loadavg: os.loadavg(), args: a, results };
  if (a.json) console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(`keystroke-latency: ${(e as Error).message}`); process.exit(1); });
