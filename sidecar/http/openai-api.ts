// OpenAI's legacy completions API, as vLLM, SGLang and llama.cpp serve it: POST /v1/completions (prompt,
// suffix, max_tokens, stop, stream; what Continue's "openai" provider sends for autocomplete) and
// GET /v1/models. With a `suffix`, prompt and suffix are text and the server lays out the model's FIM tokens;
// without, the prompt is the client's template (special spellings are tokens). Streams end with `data: [DONE]`.
import { randomUUID } from 'node:crypto';
import type { CompletionOutput } from './completion';
import { HttpError } from './errors';
import { modelId } from './llama-api';
import { checkSamplingFields, optBool, optInt, optStops, optString } from './params';
import { completionTokens, fimTokens } from './prompts';
import type { RequestContext } from './context';

const OPENAI_DEFAULT_MAX_TOKENS = 16;

export async function completions(ctx: RequestContext): Promise<void> {
  const b = ctx.body();
  const { host } = ctx;
  const s = host.session;
  if (b.prompt === undefined || b.prompt === null) throw new HttpError(400, '`prompt` is required');
  optString(b, 'model');  // any model name is accepted: this server has one
  checkSamplingFields(b);
  optInt(b, 'n', 1, 1, 1);
  optInt(b, 'best_of', 1, 1, 1);
  if (optBool(b, 'echo', false)) throw new HttpError(400, '`echo` is not supported');
  if (b.logprobs !== undefined && b.logprobs !== null && b.logprobs !== 0) throw new HttpError(400, '`logprobs` is not supported');
  const suffix = optString(b, 'suffix');
  let prompt: Int32Array;
  if (suffix !== '') {
    if (typeof b.prompt !== 'string') throw new HttpError(400, 'with a `suffix`, `prompt` must be a string (the text before the cursor)');
    prompt = fimTokens(s.tok, b.prompt, suffix, s.limits);
  } else prompt = completionTokens(s.tok, b.prompt, s.limits);
  const maxTokens = Math.min(optInt(b, 'max_tokens', OPENAI_DEFAULT_MAX_TOKENS, 0, Number.MAX_SAFE_INTEGER), s.limits.maxTokens);
  const stop = optStops(b, 'stop');
  const stream = optBool(b, 'stream', false);
  const id = `cmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const model = modelId(ctx);
  const chunk = (text: string, finish: string | null) => ({ id, object: 'text_completion', created, model, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }] });
  if (stream) ctx.startEvents();
  const out = await host.complete(ctx.client, {
    prompt, maxTokens, stop, nIndent: 0, tMaxPredictMs: 0,
    onText: stream ? (text) => ctx.event(chunk(text, null)) : undefined,
  }, ctx.aborted);
  const finish = finishReason(out);
  const usage = { prompt_tokens: out.stats.promptTokens, completion_tokens: out.stats.tokens, total_tokens: out.stats.promptTokens + out.stats.tokens };
  if (stream) {
    ctx.event({ ...chunk('', finish), usage });
    ctx.eventRaw('[DONE]');
    ctx.endEvents();
  } else {
    ctx.json(200, { ...chunk(out.text, finish), usage });
  }
}

function finishReason(out: CompletionOutput): 'stop' | 'length' {
  return out.reason === 'max_tokens' || out.reason === 'context_full' || out.reason === 'time' ? 'length' : 'stop';
}

export async function models(ctx: RequestContext): Promise<void> {
  const m = ctx.host.session.decoder.model;
  ctx.json(200, {
    object: 'list',
    data: [{
      id: modelId(ctx), object: 'model', created: Math.floor(ctx.host.stats.started / 1000), owned_by: 'frspec',
      meta: { n_vocab: m.nVocab, n_ctx: m.contextSize, size: m.weightBytes, arch: m.arch, decoding: ctx.host.session.decoder.summary.active },
    }],
  });
}
