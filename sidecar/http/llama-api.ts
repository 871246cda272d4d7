// llama.cpp server's native API: POST /infill (what llama.vscode sends), POST /completion (what Continue's
// "llama.cpp" provider sends), GET /health, GET /props. Responses and SSE chunks have llama.cpp's shape
// (content, stop, stop_type, stopping_word, tokens_cached, truncated, timings{prompt_n, prompt_ms, ...}).
// Decoding is greedy (exact FR-Spec speculation or plain); sampling fields are type-checked and not used.
import * as path from 'node:path';
import type { CompletionOutput } from './completion';
import { HttpError } from './errors';
import { type Body, checkSamplingFields, optBool, optInt, optNumber, optStops, optString } from './params';
import { completionTokens, type ExtraChunk, infillTokens } from './prompts';
import type { RequestContext } from './context';

const MAX_EXTRA_CHUNKS = 256;

function parseExtra(v: unknown): ExtraChunk[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new HttpError(400, '`input_extra` must be an array of {filename, text} objects');
  if (v.length > MAX_EXTRA_CHUNKS) throw new HttpError(400, `\`input_extra\` has ${v.length} chunks; at most ${MAX_EXTRA_CHUNKS}`);
  return v.map((c, i) => {
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new HttpError(400, `input_extra[${i}] must be an object {filename, text}`);
    const o = c as Body;
    if (typeof o.text !== 'string') throw new HttpError(400, `input_extra[${i}].text must be a string`);
    if (o.filename !== undefined && typeof o.filename !== 'string') throw new HttpError(400, `input_extra[${i}].filename must be a string`);
    return { filename: (o.filename as string | undefined) ?? 'tmp', text: o.text };
  });
}

export async function infill(ctx: RequestContext): Promise<void> {
  const b = ctx.body();
  const s = ctx.host.session;
  const { ids, truncated } = infillTokens(s.tok, {
    prefix: optString(b, 'input_prefix'), suffix: optString(b, 'input_suffix'),
    extra: parseExtra(b.input_extra), prompt: optString(b, 'prompt'),
  }, s.limits);
  await generate(ctx, b, ids, truncated);
}

export async function completion(ctx: RequestContext): Promise<void> {
  const b = ctx.body();
  if (b.prompt === undefined || b.prompt === null) throw new HttpError(400, '`prompt` is required');
  const s = ctx.host.session;
  await generate(ctx, b, completionTokens(s.tok, b.prompt, s.limits), false);
}

async function generate(ctx: RequestContext, b: Body, prompt: Int32Array, truncated: boolean): Promise<void> {
  const { host } = ctx;
  const limits = host.session.limits;
  checkSamplingFields(b);
  // -1 (llama.cpp's default): as many as the server allows; 0: only cache the prompt (llama.vscode's warm-up).
  const nPredict = optInt(b, 'n_predict', -1, -1, Number.MAX_SAFE_INTEGER);
  const maxTokens = nPredict < 0 ? limits.maxTokens : Math.min(nPredict, limits.maxTokens);
  const stop = optStops(b, 'stop');
  const nIndent = optInt(b, 'n_indent', 0, 0, 10_000);
  const tMaxPredictMs = optNumber(b, 't_max_predict_ms', 0, 0);
  optNumber(b, 't_max_prompt_ms', 0);  // accepted (llama.vscode sends it); the prompt is always evaluated whole
  optBool(b, 'cache_prompt', true);     // the KV cache of the common prefix is always reused: same output, less work
  const stream = optBool(b, 'stream', false);
  if (stream) ctx.startEvents();
  const out = await host.complete(ctx.client, {
    prompt, maxTokens, stop, nIndent, tMaxPredictMs,
    onText: stream ? (content) => ctx.event({ index: 0, content, tokens: [], stop: false, id_slot: -1 }) : undefined,
  }, ctx.aborted);
  const final = finalResponse(ctx, out, prompt.length, truncated, { n_predict: maxTokens, stop, n_indent: nIndent, t_max_predict_ms: tMaxPredictMs });
  if (stream) {
    ctx.event({ ...final, content: '' });
    ctx.endEvents();
  } else ctx.json(200, final);
}

function finalResponse(ctx: RequestContext, out: CompletionOutput, promptTokens: number, truncated: boolean, settings: Record<string, unknown>) {
  const st = out.stats;
  const evaluated = st.promptTokens - st.reusedTokens;
  const decoding = ctx.host.session.decoder.summary;
  return {
    index: 0,
    content: out.text,
    tokens: [],
    id_slot: 0,
    stop: true,
    model: modelId(ctx),
    tokens_predicted: st.tokens,
    tokens_evaluated: promptTokens,
    generation_settings: { ...settings, temperature: 0, samplers: ['greedy'], decoding: decoding.active },
    has_new_line: out.text.includes('\n'),
    truncated,
    stop_type: out.stopType,
    stopping_word: out.stoppingWord,
    tokens_cached: out.tokensCached,
    timings: {
      prompt_n: evaluated,
      prompt_ms: st.promptMs,
      prompt_per_token_ms: evaluated > 0 ? st.promptMs / evaluated : 0,
      prompt_per_second: st.promptMs > 0 ? evaluated / (st.promptMs / 1000) : 0,
      predicted_n: st.tokens,
      predicted_ms: st.decodeMs,
      predicted_per_token_ms: st.tokens > 0 ? st.decodeMs / st.tokens : 0,
      predicted_per_second: st.tokensPerSecond,
    },
    // Ours: how this completion was decoded (speculative: tau tokens per target pass).
    frspec: { mode: st.mode, tau: st.tau, steps: st.steps, reused_tokens: st.reusedTokens, queue_ms: st.queueMs, total_ms: st.totalMs, stop: out.reason },
  };
}

export function modelId(ctx: RequestContext): string {
  return path.basename(ctx.host.session.decoder.model.path);
}

export async function health(ctx: RequestContext): Promise<void> {
  ctx.json(200, { status: 'ok' });
}

export async function props(ctx: RequestContext): Promise<void> {
  const { host } = ctx;
  const s = host.session;
  const snap = host.stats.snapshot(s.decoder.summary, s.vocab);
  ctx.json(200, {
    default_generation_settings: { n_ctx: s.decoder.model.contextSize, n_predict: s.limits.maxTokens, temperature: 0, samplers: ['greedy'], model: modelId(ctx) },
    total_slots: 1,
    model_path: s.decoder.model.path,
    build_info: 'frspec-complete',
    frspec: {
      model: s.decoder.model, decoding: s.decoder.summary, limits: s.limits, vocab: s.vocab ?? null,
      calibration: snap.calibration ?? null, speedup: snap.speedup ?? null, recent: snap.recent, requests: snap.requests,
      specials: Object.fromEntries(Object.entries(s.describe().specials)),
    },
  });
}
