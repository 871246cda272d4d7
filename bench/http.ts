// What `frspec serve --http` costs on top of the engine: the same llama.vscode-shaped /infill completions
// (FIM windows of ../shared/corpus/dev.jsonl.xz files) decoded in this process through the same code the
// server runs (Session + runCompletion, the baseline), then through the HTTP server on loopback. Reports
// end-to-end ms per completion for both, the server's own total, the HTTP overhead (client round trip minus
// the server's total), and whether the texts are identical.
//   npx tsx bench/http.ts [--prompts 30] [--tokens 32] [--threads 1] [--json]
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { runCompletion } from '../sidecar/http/completion';
import { infillTokens } from '../sidecar/http/prompts';
import { Session } from '../sidecar/session';
import { percentile } from '../sidecar/stats';
import { request, startHttpServer } from '../fixtures/http-server';
import { demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';

interface Window { path: string; prefix: string; suffix: string }

/** The cursor at the start of a file's middle line, the next two lines removed (as fixtures/fim-prompts.ts). */
function window(path: string, text: string): Window | undefined {
  const lines = text.split('\n');
  if (lines.length < 12) return undefined;
  const cut = Math.floor(lines.length / 2);
  let prefix = lines.slice(0, cut).join('\n') + '\n';
  let suffix = lines.slice(cut + 2).join('\n');
  if (prefix.length > 1200) prefix = prefix.slice(prefix.indexOf('\n', prefix.length - 1200) + 1);
  if (suffix.length > 400) suffix = suffix.slice(0, suffix.lastIndexOf('\n', 400) + 1);
  return { path, prefix, suffix };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { prompts: { type: 'string' }, tokens: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } } });
  const n = Number(values.prompts ?? 30), tokens = Number(values.tokens ?? 32), threads = Number(values.threads ?? 1);
  const shared = sharedDir();
  const model = demoModel('demo-target');
  if (!shared || !model) { console.log('skipped: ../shared (demo models and corpus) is absent'); return; }
  const windows: Window[] = [];
  for await (const f of readJsonlCorpus(`${shared}/corpus/dev.jsonl.xz`)) {
    const w = window(f.path, f.text);
    if (w) windows.push(w);
    if (windows.length >= n) break;
  }
  const body = (w: Window) => ({ input_prefix: w.prefix, input_suffix: w.suffix, input_extra: [], prompt: '', n_predict: tokens, cache_prompt: true, samplers: ['top_k', 'top_p', 'infill'], top_k: 40, top_p: 0.99, stream: false });

  // Baseline: the server's completion path, called in this process.
  const session = await Session.load({ model, threads, calibrate: false });
  const local: { ms: number; text: string }[] = [];
  for (const w of windows) {
    const ids = infillTokens(session.tok, { prefix: w.prefix, suffix: w.suffix, extra: [], prompt: '' }, session.limits).ids;
    const t0 = performance.now();
    const r = await runCompletion(session, { prompt: ids, maxTokens: tokens, stop: [], nIndent: 0, tMaxPredictMs: 0 }, new AbortController().signal, t0);
    local.push({ ms: performance.now() - t0, text: r.text });
  }
  await session.close();

  const srv = await startHttpServer(['--model', model, '--threads', String(threads)]);
  const remote: { ms: number; serverMs: number; text: string }[] = [];
  try {
    for (const w of windows) {
      const t0 = performance.now();
      const r = await request(srv.url, 'POST', '/infill', body(w));
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text}`);
      remote.push({ ms: performance.now() - t0, serverMs: r.json.frspec.total_ms, text: r.json.content });
    }
  } finally {
    await srv.close();
  }
  const p = (xs: number[], q: number) => +percentile(xs, q).toFixed(2);
  const overhead = remote.map((r) => r.ms - r.serverMs);
  const same = local.filter((l, i) => l.text === remote[i].text).length;
  const result = {
    prompts: windows.length, tokens, threads, model: 'demo-target',
    inProcessMs: { p50: p(local.map((x) => x.ms), 50), p95: p(local.map((x) => x.ms), 95) },
    httpRoundTripMs: { p50: p(remote.map((x) => x.ms), 50), p95: p(remote.map((x) => x.ms), 95) },
    serverTotalMs: { p50: p(remote.map((x) => x.serverMs), 50), p95: p(remote.map((x) => x.serverMs), 95) },
    httpOverheadMs: { p50: p(overhead, 50), p95: p(overhead, 95) },
    identicalTexts: same, loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
  };
  console.log(`${windows.length} llama.vscode-shaped /infill completions of ${tokens} tokens, demo-target, ${threads} thread(s), load average ${result.loadAverage.join(' ')}:`);
  console.log(`  in process (baseline)   p50 ${result.inProcessMs.p50} ms   p95 ${result.inProcessMs.p95} ms`);
  console.log(`  HTTP round trip         p50 ${result.httpRoundTripMs.p50} ms   p95 ${result.httpRoundTripMs.p95} ms`);
  console.log(`  server's own total      p50 ${result.serverTotalMs.p50} ms   p95 ${result.serverTotalMs.p95} ms`);
  console.log(`  HTTP overhead (RTT - server total)  p50 ${result.httpOverheadMs.p50} ms   p95 ${result.httpOverheadMs.p95} ms`);
  console.log(`  identical texts: ${same}/${windows.length}`);
  if (values.json) console.log(JSON.stringify(result));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
