// Typing replayed through the real sidecar (`frspec bench typing`): what a user waits for between their last
// keystroke and the suggestion. The sidecar is dist/sidecar.js spawned as the extension spawns it (the
// extension's SidecarClient: process.execPath + ELECTRON_RUN_AS_NODE, JSON-RPC over stdio); prompts are built
// by the extension's own code (prefix/suffix windows, FIM template by model family, stop rules, postprocess).
//
// The walk: in each corpus file the cursor starts at the beginning of the middle line; the lines it will type
// are taken out of the document (the user writes them anew; the suffix starts after them). Each keystroke
// inserts the file's next character at the cursor, `paceMs` apart, `keystrokes` per burst; every keystroke
// sends a new `complete` request and cancels the previous one (VS Code cancels the provider's token, and the
// sidecar's newest request wins). After a burst the user pauses: the last request is awaited (that wait is
// "last keystroke -> suggestion"), then `pauseMs`, then the next burst continues where the cursor is. When a
// file is opened, the extension primes the KV cache (a 1-token warm-up request); so does the walk.
//
// llama.cpp (node-llama-cpp) beside it gets the same prompts (token ids from our tokenizer), the same keystroke
// times and stop rules, with a persistent context sequence (only the tokens after the common prefix with its
// cache are evaluated, as llama-server does) and latest-wins in-process. It cannot stop inside a prompt
// evaluation (node-llama-cpp yields only after the first token), so a superseded request still finishes its
// prompt; ours stops within one prompt chunk or decoding step.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SidecarClient } from '../extension/client/sidecar-client';
import { prefixWindow, suffixWindow } from '../extension/context/windows';
import { postprocess, requestRules, type CursorContext } from '../extension/postprocess/multiline';
import { buildFimPrompt, buildPlainPrompt, fimCapabilities, lineCommentFor } from '../extension/prompt/templates';
import { type CancellationToken, rpc } from '../sidecar/jsonrpc';
import { encodePrompt, specialTexts } from '../sidecar/prompt';
import type { CompleteParams, CompletionStats, InitializeResult, PromptPart, SpecialName } from '../sidecar/protocol';
import { findStop } from '../sidecar/stop-rules';
import { openTokenizer, type Tokenizer } from '../native/tokenizer';
import { readJsonlCorpus } from '../common/corpus';
import { LLAMA_CPP_VERSION, loadLlamaCppSequence, type LlamaCppSequence } from './llama-cpp';

export interface TypingOptions {
  model: string;
  draft?: string;
  eagle?: string;
  vocab?: string;
  topK?: number;
  corpus: string;
  files: number;
  keystrokes: number;
  bursts: number;
  paceMs: number;
  pauseMs: number;
  prefixChars: number;
  suffixChars: number;
  maxTokens: number;
  /** The extension's frspec.timeBudgetMs (0: none). */
  timeBudgetMs: number;
  /** The extension's frspec.promptBudgetMs (0: none): the sidecar cuts the suffix to what its measured prompt
   * speed reads in this time. llama.cpp gets the full suffix (it has no such rule), so compare it with a run
   * at --prompt-budget-ms 0. */
  promptBudgetMs?: number;
  threads: number;
  contextSize: number;
  /** dist/sidecar.js, or the TypeScript entry with execArgv ['--import', 'tsx'] (tests). */
  sidecarEntry: string;
  execArgv?: string[];
  llamaCpp: boolean;
  /** llama.cpp thread counts, one run each (default: `threads`, the same as ours). */
  llamaThreads?: number[];
  /** llama.cpp replays only the first N files (it can be 10-50x slower on a loaded machine). */
  llamaFiles?: number;
}

/** One keystroke's request as the client saw it. */
export interface KeystrokeRequest {
  keystroke: number;
  outcome: 'served' | 'superseded' | 'failed';
  /** Sent -> answered (or rejected), client side. */
  latencyMs: number;
  /** Prompt tokens after the common prefix with the previous keystroke's prompt (what had to change). */
  promptDelta: number;
  promptTokens: number;
  /** Served only: */
  reEvaluated?: number;
  queueMs?: number;
  promptMs?: number;
  decodeMs?: number;
  tokens?: number;
  /** What the engine wrote, and of it the suggestion the extension would show: characters and (about) tokens. */
  text?: string;
  shownChars?: number;
  tokensShown?: number;
  tau?: number;
  mode?: string;
  stop?: string;
  error?: string;
}

export interface Burst { file: string; burst: number; requests: KeystrokeRequest[] }

export interface Summary {
  bursts: number;
  /** The last keystroke of each burst -> its suggestion (ms). */
  lastKeyMs: { p50: number; p95: number; max: number };
  /** Medians over the last keystrokes' requests. */
  queueMs: number;
  promptMs: number;
  decodeMs: number;
  reEvaluatedLast: number;
  tokens: number;
  tokensShown: number;
  /** Over every served request: tokens re-evaluated per served request, and per keystroke from the prompt diff. */
  reEvaluatedPerServed: number;
  promptDeltaPerKeystroke: number;
  tau: number;
  keystrokes: number;
  served: number;
  superseded: number;
  failed: number;
  /** Which decoder served the requests: mode -> count. */
  servedBy: Record<string, number>;
}

export interface EngineRun {
  engine: string;
  decoding: string;
  bursts: Burst[];
  perFile: Array<{ file: string } & Summary>;
  overall: Summary;
}

export interface TypingResult {
  model: string; draft?: string; eagle?: string; vocab?: string;
  options: Omit<TypingOptions, 'sidecarEntry' | 'execArgv'>;
  files: string[];
  runs: EngineRun[];
  machine: string;
  notes: string[];
}

// ---- the walk ----
interface Keystroke { before: string; after: string; cursor: CursorContext }
interface FileWalk { path: string; lang: string; bursts: Keystroke[][] }

async function walks(o: TypingOptions): Promise<FileWalk[]> {
  const total = o.keystrokes * o.bursts;
  const out: FileWalk[] = [];
  for await (const f of readJsonlCorpus(o.corpus)) {
    const text = f.text.replace(/\r\n/g, '\n');
    const lines = text.split('\n');
    if (lines.length < 12) continue;
    const start = lines.slice(0, Math.floor(lines.length / 2)).join('\n').length + 1;
    if (start + total >= text.length) continue;
    const typedEnd = text.indexOf('\n', start + total - 1);
    const after = typedEnd < 0 ? '' : text.slice(typedEnd);
    const bursts: Keystroke[][] = [];
    for (let b = 0; b < o.bursts; b++) {
      const keys: Keystroke[] = [];
      for (let k = 1; k <= o.keystrokes; k++) {
        const before = text.slice(0, start + b * o.keystrokes + k);
        const lineStart = before.lastIndexOf('\n') + 1;
        keys.push({ before, after, cursor: { linePrefix: before.slice(lineStart), lineSuffix: '', nextLines: after.split('\n').slice(1, 4) } });
      }
      bursts.push(keys);
    }
    out.push({ path: f.path, lang: f.lang, bursts });
    if (out.length >= o.files) break;
  }
  return out;
}

/** The extension's prompt (inline-completion.ts promptAt, without recent-file chunks) and request. */
function request(k: Keystroke, file: FileWalk, specials: Partial<Record<SpecialName, string>>, o: TypingOptions): CompleteParams {
  const input = {
    prefix: prefixWindow(k.before, o.prefixChars), suffix: suffixWindow(k.after, o.suffixChars),
    path: file.path, repoName: 'workspace', lineComment: lineCommentFor(file.lang), chunks: [],
  };
  const caps = fimCapabilities(specials);
  const parts: PromptPart[] = caps ? buildFimPrompt(caps, input) : buildPlainPrompt(input);
  return {
    parts, maxTokens: o.maxTokens, ...(o.timeBudgetMs > 0 ? { timeBudgetMs: o.timeBudgetMs } : {}),
    ...(o.promptBudgetMs ? { promptBudgetMs: o.promptBudgetMs } : {}), ...requestRules(k.cursor),
  };
}

/**
 * The suggestion the editor would show (the extension's postprocess) and about how many of the generated
 * tokens it holds: its tokens in the context of the cursor's line, at most the tokens generated.
 */
function shown(text: string, tokens: number, cursor: CursorContext, tok: Tokenizer): { shownChars: number; tokensShown: number } {
  const s = postprocess(text, cursor);
  if (!s) return { shownChars: 0, tokensShown: 0 };
  const inContext = tok.encode(cursor.linePrefix + s).length - tok.encode(cursor.linePrefix).length;
  return { shownChars: s.length, tokensShown: Math.max(1, Math.min(tokens, inContext)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const commonPrefix = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

/** Something that answers complete requests newest-wins: the sidecar, or llama.cpp in-process. */
interface Completer {
  label: string;
  decoding(): string;
  /** Resolves with the result, or rejects with code -32800 when superseded/cancelled. */
  complete(p: CompleteParams, ids: Int32Array, cancel: CancellationToken): Promise<{ text: string; stop: string; stats: Partial<CompletionStats> }>;
  warmup(p: CompleteParams, ids: Int32Array): Promise<void>;
  close(): Promise<void>;
}

async function replay(c: Completer, files: FileWalk[], tok: Tokenizer, specials: Partial<Record<SpecialName, string>>, o: TypingOptions): Promise<EngineRun> {
  const bursts: Burst[] = [];
  const limits = { maxPromptTokens: 1 << 30, maxPromptChars: 1 << 30, maxTokens: o.maxTokens };
  for (const file of files) {
    const first = request({ ...file.bursts[0][0], before: file.bursts[0][0].before.slice(0, -1) }, file, specials, o);
    let prevIds = encodePrompt(tok, first.parts, limits);
    await c.warmup({ ...first, maxTokens: 1, warmup: true }, prevIds);
    for (const [b, keys] of file.bursts.entries()) {
      const pending: Promise<KeystrokeRequest>[] = [];
      let source: InstanceType<typeof rpc.CancellationTokenSource> | undefined;
      const t0 = performance.now();
      for (const [i, k] of keys.entries()) {
        await sleep(t0 + i * o.paceMs - performance.now());
        source?.cancel();  // VS Code cancels the previous provider call on the next keystroke
        source = new rpc.CancellationTokenSource();
        const p = request(k, file, specials, o);
        const ids = encodePrompt(tok, p.parts, limits);
        const promptDelta = ids.length - commonPrefix(prevIds, ids);
        prevIds = ids;
        const sent = performance.now();
        pending.push(c.complete(p, ids, source.token).then(
          (r): KeystrokeRequest => ({
            keystroke: i + 1, outcome: 'served', latencyMs: performance.now() - sent, promptDelta, promptTokens: ids.length,
            reEvaluated: (r.stats.promptTokens ?? 0) - (r.stats.reusedTokens ?? 0), queueMs: r.stats.queueMs, promptMs: r.stats.promptMs,
            decodeMs: r.stats.decodeMs, tokens: r.stats.tokens, tau: r.stats.tau, mode: r.stats.mode, stop: r.stop, text: r.text,
            ...shown(r.text, r.stats.tokens ?? 0, k.cursor, tok),
          }),
          (e): KeystrokeRequest => ({
            keystroke: i + 1, outcome: (e as { code?: number }).code === -32800 ? 'superseded' : 'failed', latencyMs: performance.now() - sent,
            promptDelta, promptTokens: ids.length, ...((e as { code?: number }).code === -32800 ? {} : { error: (e as Error).message }),
          })));
      }
      const requests = await Promise.all(pending);
      const last = requests[requests.length - 1];
      if (last.outcome !== 'served') throw new Error(`${c.label}: the last keystroke of a burst was not answered (${last.outcome}${last.error ? `: ${last.error}` : ''})`);
      bursts.push({ file: file.path, burst: b, requests });
      await sleep(o.pauseMs);
    }
  }
  const perFile = files.map((f) => ({ file: f.path, ...summarize(bursts.filter((x) => x.file === f.path)) }));
  return { engine: c.label, decoding: c.decoding(), bursts, perFile, overall: summarize(bursts) };
}

const pct = (xs: number[], p: number) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] : 0;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function summarize(bursts: Burst[]): Summary {
  const lasts = bursts.map((b) => b.requests[b.requests.length - 1]);
  const all = bursts.flatMap((b) => b.requests);
  const served = all.filter((r) => r.outcome === 'served');
  const servedBy: Record<string, number> = {};
  for (const r of served) servedBy[r.mode!] = (servedBy[r.mode!] ?? 0) + 1;
  const med = (f: (r: KeystrokeRequest) => number | undefined) => pct(lasts.map((r) => f(r) ?? 0), 50);
  return {
    bursts: bursts.length,
    lastKeyMs: { p50: pct(lasts.map((r) => r.latencyMs), 50), p95: pct(lasts.map((r) => r.latencyMs), 95), max: Math.max(0, ...lasts.map((r) => r.latencyMs)) },
    queueMs: med((r) => r.queueMs), promptMs: med((r) => r.promptMs), decodeMs: med((r) => r.decodeMs),
    reEvaluatedLast: med((r) => r.reEvaluated), tokens: med((r) => r.tokens), tokensShown: med((r) => r.tokensShown),
    reEvaluatedPerServed: mean(served.map((r) => r.reEvaluated!)), promptDeltaPerKeystroke: mean(all.map((r) => r.promptDelta)),
    tau: mean(served.filter((r) => r.tokens).map((r) => r.tau!)),
    keystrokes: all.length, served: served.length, superseded: all.filter((r) => r.outcome === 'superseded').length,
    failed: all.filter((r) => r.outcome === 'failed').length, servedBy,
  };
}

// ---- the two completers ----
async function sidecarCompleter(o: TypingOptions, log: (s: string) => void): Promise<{ c: Completer; init: InitializeResult }> {
  const client = new SidecarClient({ entry: o.sidecarEntry, execArgv: o.execArgv, onLog: (l) => { if (/error|uncaught/i.test(l)) log(l); } });
  const init = await client.initialize({
    model: o.model, ...(o.eagle ? { eagle: o.eagle } : o.draft ? { draft: o.draft } : {}),
    ...(o.vocab ? { vocab: o.vocab } : {}), ...(o.topK ? { topK: o.topK } : {}), threads: o.threads, contextSize: o.contextSize,
  });
  // The sidecar measures plain vs speculative decoding after loading (as in the editor): wait for it, so the
  // decoder it chose serves the typing.
  const t0 = performance.now();
  let stats = await client.stats();
  while (!stats.calibration && performance.now() - t0 < 180_000) { await sleep(250); stats = await client.stats(); }
  log(`sidecar: ${init.model.backend}, ${init.decoding.mode} decoding${stats.calibration ? `, calibrated in ${((performance.now() - t0) / 1000).toFixed(1)} s: plain ${stats.calibration.plainTokensPerSecond.toFixed(1)} tok/s, configured ${stats.calibration.decoderTokensPerSecond.toFixed(1)} tok/s, active ${stats.decoding.active}` : ' (no calibration within 180 s)'}`);
  const c: Completer = {
    label: 'frspec sidecar',
    decoding: () => `${stats.decoding.mode}${stats.decoding.drafter ? ` (${stats.decoding.drafter})` : ''}, active ${stats.decoding.active}`,
    complete: (p, _ids, token) => client.complete(p, token),
    warmup: async (p) => { await client.complete(p); },
    close: () => client.dispose(),
  };
  return { c, init };
}

/** llama.cpp with prefix reuse and newest-wins, in this process (see the top of the file). */
function llamaCompleter(seq: LlamaCppSequence, tok: Tokenizer, threads: number): Completer {
  interface Job { p: CompleteParams; ids: Int32Array; received: number; resolve: (v: Awaited<ReturnType<Completer['complete']>>) => void; reject: (e: unknown) => void; superseded: boolean }
  let waiting: Job | undefined, running: Job | undefined;
  const superseded = () => Object.assign(new Error('superseded by a newer request'), { code: -32800 });
  const run = async (job: Job) => {
    const started = performance.now();
    const cached = seq.contextTokens();
    const reuse = Math.min(commonPrefix(cached, job.ids), job.ids.length - 1);  // at least one token is evaluated
    await seq.truncate(reuse);
    const stream = tok.streamDecoder();
    const tokens: number[] = [];
    let text = '', stop = 'max_tokens', tFirst = 0;
    for await (const t of seq.evaluate([...job.ids.subarray(reuse)])) {
      if (!tFirst) tFirst = performance.now();
      if (job.superseded) break;
      if (seq.isEog(t)) { stop = 'end_of_text'; break; }
      tokens.push(t);
      text += stream.push(t);
      const hit = findStop(text, job.p);
      if (hit) { text = text.slice(0, hit.length); stop = hit.reason; break; }
      if (tokens.length >= (job.p.maxTokens ?? 64)) break;
      if (job.p.timeBudgetMs && performance.now() - tFirst >= job.p.timeBudgetMs) { stop = 'time_budget'; break; }
    }
    if (job.superseded) { job.reject(superseded()); return; }
    const done = performance.now();
    job.resolve({
      text, stop, stats: {
        promptTokens: job.ids.length, reusedTokens: reuse, tokens: tokens.length, queueMs: started - job.received,
        promptMs: tFirst - started, decodeMs: done - tFirst, tau: 1, mode: 'plain',
      },
    });
  };
  const pump = async () => {
    if (running) return;
    while (waiting) {
      running = waiting;
      waiting = undefined;
      try { await run(running); } catch (e) { running.reject(e); }
      running = undefined;
    }
  };
  const submit = (p: CompleteParams, ids: Int32Array, token?: CancellationToken) =>
    new Promise<Awaited<ReturnType<Completer['complete']>>>((resolve, reject) => {
      const job: Job = { p, ids, received: performance.now(), resolve, reject, superseded: false };
      if (waiting) { waiting.superseded = true; waiting.reject(superseded()); }
      if (running) running.superseded = true;
      waiting = job;
      token?.onCancellationRequested(() => {
        job.superseded = true;
        if (waiting === job) { waiting = undefined; job.reject(superseded()); }
      });
      void pump();
    });
  return {
    label: `llama.cpp (node-llama-cpp ${LLAMA_CPP_VERSION}, ${threads} threads)`,
    decoding: () => 'plain, persistent sequence with prefix reuse',
    complete: submit,
    warmup: async (p, ids) => { await submit(p, ids); },
    close: () => seq.close(),
  };
}

/** `onRun` sees the result so far after each engine's run (the command writes it to --out: llama.cpp can take long). */
export async function runTypingBench(o: TypingOptions, log: (s: string) => void = () => undefined, onRun?: (partial: TypingResult) => void): Promise<TypingResult> {
  if (!fs.existsSync(o.sidecarEntry)) throw new Error(`${o.sidecarEntry} is missing: run \`npm run build:ts\``);
  const files = await walks(o);
  if (files.length < o.files) throw new Error(`only ${files.length} files of ${o.corpus} are long enough for ${o.bursts} x ${o.keystrokes} keystrokes`);
  const tok = openTokenizer(o.model);
  const load0 = os.loadavg()[0];
  const runs: EngineRun[] = [];
  const { c, init } = await sidecarCompleter(o, log);
  try {
    log(`replaying ${files.length} files x ${o.bursts} bursts x ${o.keystrokes} keystrokes, ${o.paceMs} ms apart, through the sidecar`);
    runs.push(await replay(c, files, tok, init.specials, o));
  } finally {
    await c.close();
  }
  const cpu = os.cpus();
  const result = (): TypingResult => ({
    model: o.model, draft: o.draft, eagle: o.eagle, vocab: o.vocab,
    options: (({ sidecarEntry: _e, execArgv: _a, ...rest }) => rest)(o),
    files: files.map((f) => f.path), runs,
    machine: `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${load0.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after`,
    notes: [
      'prompts: the extension\'s own builder (prefix/suffix windows, FIM template), without recent-file chunks; every keystroke sends a request (the typed-along cache and any debounce of the editor are not replayed)',
      'llama.cpp: same token ids, keystroke times, stop rules and time budget (counted from its first token); prefix reuse by a persistent sequence; it cannot stop inside a prompt evaluation, so a superseded request finishes its prompt first; τ is 1 (plain decoding)',
    ],
  });
  onRun?.(result());
  for (const threads of o.llamaCpp ? o.llamaThreads ?? [o.threads] : []) {
    const seq = await loadLlamaCppSequence(o.model, threads, o.contextSize);
    const lc = llamaCompleter(seq, tok, threads);
    try {
      log(`the same typing through llama.cpp, ${threads} threads`);
      runs.push(await replay(lc, files.slice(0, o.llamaFiles ?? files.length), tok, specialTexts(tok), o));
    } finally {
      await lc.close();
    }
    onRun?.(result());
  }
  return result();
}

// ---- report ----
const ms = (x: number) => x.toFixed(0);

export function typingTable(r: TypingResult): string {
  const head = '| engine | file | last key -> suggestion p50 / p95 ms | queue ms | prompt ms | decode ms | re-evaluated (last / per served) | prompt change per key | tokens / shown | τ | served / superseded | decoder |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|---|';
  const row = (engine: string, file: string, s: Summary) =>
    `| ${engine} | ${file} | ${ms(s.lastKeyMs.p50)} / ${ms(s.lastKeyMs.p95)} | ${ms(s.queueMs)} | ${ms(s.promptMs)} | ${ms(s.decodeMs)} | ` +
    `${ms(s.reEvaluatedLast)} / ${s.reEvaluatedPerServed.toFixed(0)} | ${s.promptDeltaPerKeystroke.toFixed(1)} | ${s.tokens} / ${s.tokensShown} | ${s.tau.toFixed(2)} | ` +
    `${s.served} / ${s.superseded}${s.failed ? ` (${s.failed} failed)` : ''} | ${Object.entries(s.servedBy).map(([k, v]) => `${k} ${v}`).join(', ')} |`;
  const lines = [
    `typing: ${path.basename(r.model)}${r.draft ? ` + draft ${path.basename(r.draft)}` : ''}${r.eagle ? ` + EAGLE ${path.basename(r.eagle)}` : ''}${r.vocab ? `, vocabulary ${path.basename(r.vocab)}` : ''}; ` +
      `${r.files.length} files x ${r.options.bursts} bursts x ${r.options.keystrokes} keystrokes ${r.options.paceMs} ms apart; prefix ${r.options.prefixChars} / suffix ${r.options.suffixChars} chars; ` +
      `${r.options.maxTokens} tokens, time budget ${r.options.timeBudgetMs || 'none'} ms, prompt budget ${r.options.promptBudgetMs || 'none'} ms; ${r.options.threads} threads`,
    `machine: ${r.machine}`, '', head, sep,
  ];
  for (const run of r.runs) {
    for (const f of run.perFile) lines.push(row(run.engine, f.file, f));
    lines.push(row(`**${run.engine}**`, `**all** (${run.decoding})`, run.overall));
  }
  lines.push('', ...r.notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
