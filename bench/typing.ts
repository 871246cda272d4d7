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
  /**
   * With a drafter: also replay the same typing through a second sidecar that decodes plainly (the same target,
   * no drafter), burst by burst in turn with the drafter's sidecar (which goes first alternates), and compare
   * the two (TypingResult.comparison). Both sidecars stay loaded; only one works at a time.
   */
  comparePlain?: boolean;
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
  /** Served, as the sidecar reports them: target passes, why this decoder served it; speculative: the drafter's
   * share of promptMs and the prompt tokens it read, drafting and verification ms of decodeMs. */
  steps?: number;
  why?: string;
  draftPromptMs?: number;
  draftPromptTokens?: number;
  draftMs?: number;
  verifyMs?: number;
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
  /** With comparePlain: the drafter's sidecar against the plain one on the same keystrokes. */
  comparison?: Comparison;
  machine: string;
  notes: string[];
}

/** The drafter's sidecar (`test`) against plain decoding (`base`), same files, keystrokes and times, interleaved. */
export interface Comparison {
  base: string;
  test: string;
  lastKeyMs: { base: { p50: number; p95: number }; test: { p50: number; p95: number } };
  perFile: Array<{ file: string; baseP50: number; testP50: number }>;
  /** Decoding over every served request (tokens after the first / decode ms), and the ratio test ÷ base. */
  decode: { baseTokensPerSecond: number; testTokensPerSecond: number; speedup: number };
  /**
   * The same over the keystrokes both served (same request; each side's tokens after the first over its decode
   * ms): the decoders on the same requests, whichever set of requests each one's speed let it finish.
   */
  pairedDecode: { requests: number; baseTokensPerSecond: number; testTokensPerSecond: number; speedup: number };
  /** The last keystrokes (served by both, same prompt): median decode ms and Σ base ÷ Σ test decode ms. */
  lastKeyDecode: { baseMedianMs: number; testMedianMs: number; speedup: number };
  /** The last keystrokes' suggestion texts compared (greedy decoding: they must be equal). */
  sameText: { compared: number; identical: number; differing: Array<{ file: string; burst: number; base: string; test: string }> };
  /** decodeSpeedup: pairedDecode's; 'never slower': p50 and p95 of last key -> suggestion, and every file's p50, not above plain's. */
  verdict: { decodeSpeedup: number; p50NotSlower: boolean; p95NotSlower: boolean; perFileP50NotSlower: boolean };
}

// ---- the walk ----
export interface Keystroke { before: string; after: string; cursor: CursorContext }
export interface FileWalk { path: string; lang: string; bursts: Keystroke[][] }

export async function walks(o: TypingOptions): Promise<FileWalk[]> {
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
export function request(k: Keystroke, file: FileWalk, specials: Partial<Record<SpecialName, string>>, o: TypingOptions): CompleteParams {
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

type Specials = Partial<Record<SpecialName, string>>;
const LIMITS = { maxPromptTokens: 1 << 30, maxPromptChars: 1 << 30 };

/** One burst of keystrokes `paceMs` apart, each a request cancelling the one before; the last one awaited. */
async function typeBurst(c: Completer, file: FileWalk, b: number, keys: Keystroke[], prevIds: Int32Array, tok: Tokenizer, specials: Specials,
  o: TypingOptions): Promise<{ burst: Burst; lastIds: Int32Array }> {
  const pending: Promise<KeystrokeRequest>[] = [];
  let source: InstanceType<typeof rpc.CancellationTokenSource> | undefined;
  const t0 = performance.now();
  for (const [i, k] of keys.entries()) {
    await sleep(t0 + i * o.paceMs - performance.now());
    source?.cancel();  // VS Code cancels the previous provider call on the next keystroke
    source = new rpc.CancellationTokenSource();
    const p = request(k, file, specials, o);
    const ids = encodePrompt(tok, p.parts, { ...LIMITS, maxTokens: o.maxTokens });
    const promptDelta = ids.length - commonPrefix(prevIds, ids);
    prevIds = ids;
    const sent = performance.now();
    pending.push(c.complete(p, ids, source.token).then(
      (r): KeystrokeRequest => {
        const st = r.stats as Partial<CompletionStats> & { draftPromptMs?: number; draftPromptTokens?: number; draftMs?: number; verifyMs?: number };
        return {
          keystroke: i + 1, outcome: 'served', latencyMs: performance.now() - sent, promptDelta, promptTokens: ids.length,
          reEvaluated: (st.promptTokens ?? 0) - (st.reusedTokens ?? 0), queueMs: st.queueMs, promptMs: st.promptMs,
          decodeMs: st.decodeMs, tokens: st.tokens, tau: st.tau, mode: st.mode, stop: r.stop, text: r.text,
          ...shown(r.text, st.tokens ?? 0, k.cursor, tok),
          steps: st.steps, why: st.why,
          ...(st.mode === 'speculative' ? { draftPromptMs: st.draftPromptMs, draftPromptTokens: st.draftPromptTokens, draftMs: st.draftMs, verifyMs: st.verifyMs } : {}),
        };
      },
      (e): KeystrokeRequest => ({
        keystroke: i + 1, outcome: (e as { code?: number }).code === -32800 ? 'superseded' : 'failed', latencyMs: performance.now() - sent,
        promptDelta, promptTokens: ids.length, ...((e as { code?: number }).code === -32800 ? {} : { error: (e as Error).message }),
      })));
  }
  const requests = await Promise.all(pending);
  const last = requests[requests.length - 1];
  if (last.outcome !== 'served') throw new Error(`${c.label}: the last keystroke of a burst was not answered (${last.outcome}${last.error ? `: ${last.error}` : ''})`);
  return { burst: { file: file.path, burst: b, requests }, lastIds: prevIds };
}

/**
 * The walk through every file for each completer. With several, they take turns burst by burst (the first one
 * alternates), so both meet the same machine load; each sees exactly the keystrokes it would see alone.
 */
async function replay(cs: Array<{ c: Completer; specials: Specials }>, files: FileWalk[], tok: Tokenizer, o: TypingOptions): Promise<EngineRun[]> {
  const bursts: Burst[][] = cs.map(() => []);
  let turn = 0;
  for (const file of files) {
    const prev: Int32Array[] = [];
    for (const [j, { c, specials }] of cs.entries()) {
      const first = request({ ...file.bursts[0][0], before: file.bursts[0][0].before.slice(0, -1) }, file, specials, o);
      prev[j] = encodePrompt(tok, first.parts, { ...LIMITS, maxTokens: o.maxTokens });
      await c.warmup({ ...first, maxTokens: 1, warmup: true }, prev[j]);
    }
    for (const [b, keys] of file.bursts.entries()) {
      const order = cs.map((_, j) => j);
      if (turn++ % 2 === 1) order.reverse();
      for (const j of order) {
        const r = await typeBurst(cs[j].c, file, b, keys, prev[j], tok, cs[j].specials, o);
        prev[j] = r.lastIds;
        bursts[j].push(r.burst);
        await sleep(o.pauseMs);
      }
    }
  }
  return cs.map(({ c }, j) => ({
    engine: c.label, decoding: c.decoding(), bursts: bursts[j],
    perFile: files.map((f) => ({ file: f.path, ...summarize(bursts[j].filter((x) => x.file === f.path)) })), overall: summarize(bursts[j]),
  }));
}

/** `test` (the drafter's sidecar) against `base` (plain decoding) on the same keystrokes. */
export function compare(base: EngineRun, test: EngineRun): Comparison {
  const lasts = (r: EngineRun) => r.bursts.map((b) => b.requests[b.requests.length - 1]);
  const decodeRate = (r: EngineRun) => {
    // Tokens after the first (which comes with the prompt) over decode ms, every served request that decoded.
    const served = r.bursts.flatMap((b) => b.requests).filter((q) => q.outcome === 'served' && (q.tokens ?? 0) >= 2);
    const ms = served.reduce((s, q) => s + q.decodeMs!, 0);
    return ms > 0 ? served.reduce((s, q) => s + q.tokens! - 1, 0) / (ms / 1000) : 0;
  };
  const bl = lasts(base), tl = lasts(test);
  const differing: Comparison['sameText']['differing'] = [];
  for (let i = 0; i < Math.min(bl.length, tl.length); i++) {
    if (bl[i].text !== tl[i].text) differing.push({ file: base.bursts[i].file, burst: base.bursts[i].burst, base: bl[i].text ?? '', test: tl[i].text ?? '' });
  }
  const sum = (xs: KeystrokeRequest[]) => xs.reduce((s, q) => s + (q.decodeMs ?? 0), 0);
  const pb: KeystrokeRequest[] = [], pt: KeystrokeRequest[] = [];
  base.bursts.forEach((b, i) => b.requests.forEach((q, k) => {
    const t = test.bursts[i]?.requests[k];
    if (q.outcome === 'served' && t?.outcome === 'served' && (q.tokens ?? 0) >= 2 && (t.tokens ?? 0) >= 2) { pb.push(q); pt.push(t); }
  }));
  const rate = (xs: KeystrokeRequest[]) => (sum(xs) > 0 ? xs.reduce((s, q) => s + q.tokens! - 1, 0) / (sum(xs) / 1000) : 0);
  const baseRate = decodeRate(base), testRate = decodeRate(test);
  const perFile = base.perFile.map((f, i) => ({ file: f.file, baseP50: f.lastKeyMs.p50, testP50: test.perFile[i]?.lastKeyMs.p50 ?? NaN }));
  const lk = (r: EngineRun) => ({ p50: r.overall.lastKeyMs.p50, p95: r.overall.lastKeyMs.p95 });
  return {
    base: base.engine, test: test.engine, lastKeyMs: { base: lk(base), test: lk(test) }, perFile,
    decode: { baseTokensPerSecond: baseRate, testTokensPerSecond: testRate, speedup: baseRate > 0 ? testRate / baseRate : 0 },
    pairedDecode: { requests: pb.length, baseTokensPerSecond: rate(pb), testTokensPerSecond: rate(pt), speedup: rate(pb) > 0 ? rate(pt) / rate(pb) : 0 },
    lastKeyDecode: { baseMedianMs: base.overall.decodeMs, testMedianMs: test.overall.decodeMs, speedup: sum(tl) > 0 ? sum(bl) / sum(tl) : 0 },
    sameText: { compared: Math.min(bl.length, tl.length), identical: Math.min(bl.length, tl.length) - differing.length, differing },
    verdict: {
      decodeSpeedup: rate(pb) > 0 ? rate(pt) / rate(pb) : 0,
      p50NotSlower: test.overall.lastKeyMs.p50 <= base.overall.lastKeyMs.p50,
      p95NotSlower: test.overall.lastKeyMs.p95 <= base.overall.lastKeyMs.p95,
      perFileP50NotSlower: perFile.every((f) => f.testP50 <= f.baseP50),
    },
  };
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
async function sidecarCompleter(o: TypingOptions, log: (s: string) => void, label = 'frspec sidecar'): Promise<{ c: Completer; init: InitializeResult }> {
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
    label,
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
  const withPlain = !!o.comparePlain && !!(o.draft || o.eagle);
  const sidecars: Array<{ c: Completer; specials: Specials }> = [];
  try {
    if (withPlain) {
      // Loaded and calibrated one after the other: a calibration never runs beside the other's typing.
      const plain = await sidecarCompleter({ ...o, draft: undefined, eagle: undefined }, log, 'frspec sidecar, plain');
      sidecars.push({ c: plain.c, specials: plain.init.specials });
    }
    const { c, init } = await sidecarCompleter(o, log, withPlain ? `frspec sidecar, ${o.eagle ? 'EAGLE head' : 'draft model'}` : 'frspec sidecar');
    sidecars.push({ c, specials: init.specials });
    log(`replaying ${files.length} files x ${o.bursts} bursts x ${o.keystrokes} keystrokes, ${o.paceMs} ms apart, through ${withPlain ? 'two sidecars in turn' : 'the sidecar'}`);
    runs.push(...await replay(sidecars, files, tok, o));
  } finally {
    for (const { c } of sidecars) await c.close();
  }
  const comparison = withPlain ? compare(runs[0], runs[1]) : undefined;
  const cpu = os.cpus();
  const result = (): TypingResult => ({
    model: o.model, draft: o.draft, eagle: o.eagle, vocab: o.vocab,
    options: (({ sidecarEntry: _e, execArgv: _a, ...rest }) => rest)(o),
    files: files.map((f) => f.path), runs, ...(comparison ? { comparison } : {}),
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
      runs.push(...await replay([{ c: lc, specials: specialTexts(tok) }], files.slice(0, o.llamaFiles ?? files.length), tok, o));
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
  const cmp = r.comparison;
  if (cmp) {
    const yes = (b: boolean) => (b ? 'yes' : 'NO');
    lines.push('', `${cmp.test} vs ${cmp.base} (same keystrokes, in turn burst by burst):`,
      `- last key -> suggestion p50 ${ms(cmp.lastKeyMs.test.p50)} vs ${ms(cmp.lastKeyMs.base.p50)} ms (not slower: ${yes(cmp.verdict.p50NotSlower)}), ` +
        `p95 ${ms(cmp.lastKeyMs.test.p95)} vs ${ms(cmp.lastKeyMs.base.p95)} ms (not slower: ${yes(cmp.verdict.p95NotSlower)})`,
      `- per file p50: ${cmp.perFile.map((f) => `${path.basename(f.file)} ${ms(f.testP50)} vs ${ms(f.baseP50)}`).join(', ')} (none slower: ${yes(cmp.verdict.perFileP50NotSlower)})`,
      `- decoding, every served request: ${cmp.decode.testTokensPerSecond.toFixed(0)} vs ${cmp.decode.baseTokensPerSecond.toFixed(0)} tokens/s = ${cmp.decode.speedup.toFixed(2)}x; ` +
        `the ${cmp.pairedDecode.requests} requests both served: ${cmp.pairedDecode.testTokensPerSecond.toFixed(0)} vs ${cmp.pairedDecode.baseTokensPerSecond.toFixed(0)} tokens/s = ${cmp.pairedDecode.speedup.toFixed(2)}x; ` +
        `last keystrokes: median ${cmp.lastKeyDecode.testMedianMs.toFixed(1)} vs ${cmp.lastKeyDecode.baseMedianMs.toFixed(1)} ms, sum ${cmp.lastKeyDecode.speedup.toFixed(2)}x`,
      `- suggestions identical on ${cmp.sameText.identical} of ${cmp.sameText.compared} last keystrokes`);
  }
  lines.push('', ...r.notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
