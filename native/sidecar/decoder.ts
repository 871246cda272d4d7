// The one function every completion goes through: `decoder.generate()`. Without a drafter it is plain
// greedy decoding on the target (native/engine.ts); with a draft model or an EAGLE head it is FR-Spec
// speculative decoding (native/spec.ts) — same inputs, token for token the same greedy output, faster.
// `plain()` always decodes without speculation on the same model and context: calibration measures the
// speed-up against it.
import { addon } from '../addon';
import { Engine } from '../engine';
import { openGguf } from '../gguf';
import { SpecEngine } from '../spec';
import { ErrorCode, type DecodingSummary, type InitializeResult } from './protocol';
import { SidecarError } from './errors';

export type ModelSummary = InitializeResult['model'];

export interface DecodeRequest {
  prompt: Int32Array;
  maxTokens: number;
  stopTokens: readonly number[];
  signal: AbortSignal;
  onToken?: (ids: Int32Array) => void;
}

export type DecodeStop = 'stop_token' | 'max_tokens' | 'context_full' | 'cancelled';

export interface DecodeResult {
  tokens: Int32Array;
  stop: DecodeStop;
  nPrompt: number;
  nReused: number;
  promptMs: number;
  decodeMs: number;
  /** Target forward passes spent on the generated tokens (= tokens for plain decoding). */
  steps: number;
  /** Tokens per target pass as the decoder counts them (a step's tokens after a stop token included; 1 for plain). */
  tau: number;
  /** What actually decoded this request. */
  mode: 'plain' | 'speculative';
}

export interface Decoder {
  readonly summary: DecodingSummary;
  readonly model: ModelSummary;
  /** The completion path: the configured decoder, or plain decoding when that was measured faster. */
  generate(req: DecodeRequest): Promise<DecodeResult>;
  /** The configured decoder, whatever the measurements say (calibration measures it). */
  configured(req: DecodeRequest): Promise<DecodeResult>;
  plain(req: DecodeRequest): Promise<DecodeResult>;
  /** After a calibration: use plain decoding for completions when it was faster (same greedy output). */
  choose(plainTokensPerSecond: number, configuredTokensPerSecond: number): void;
  /** Uses a new draft vocabulary (FR-Spec top-k); a no-op for plain decoding. */
  setVocab(file: string, topK: number): Promise<void>;
  close(): Promise<void>;
}

export interface DrafterChoice { draft?: string; eagle?: string }

/** Plain greedy decoding on the target; `note` says why speculation is off when a drafter was asked for. */
export class PlainDecoder implements Decoder {
  readonly summary: DecodingSummary;
  readonly model: ModelSummary;
  constructor(private readonly engine: Engine, note?: string) {
    this.summary = { mode: 'plain', active: 'plain', ...(note ? { note } : {}) };
    const i = engine.info;
    this.model = { path: i.path, arch: i.arch, nVocab: i.nVocab, nLayers: i.nLayers, dModel: i.dModel, weightBytes: i.weightBytes, backend: i.backend, threads: i.threads, contextSize: i.contextSize };
  }

  generate(req: DecodeRequest): Promise<DecodeResult> {
    return this.plain(req);
  }

  configured(req: DecodeRequest): Promise<DecodeResult> {
    return this.plain(req);
  }

  choose(): void {}

  async plain(req: DecodeRequest): Promise<DecodeResult> {
    const r = await this.engine.generate(req.prompt, {
      maxTokens: req.maxTokens, stopTokens: req.stopTokens, signal: req.signal, onToken: req.onToken,
    });
    return {
      tokens: r.tokens, stop: r.stop === 'stop_token' ? 'stop_token' : r.stop,
      nPrompt: r.nPrompt, nReused: r.nReused, promptMs: r.promptMs, decodeMs: r.decodeMs, steps: r.tokens.length, tau: 1, mode: 'plain',
    };
  }

  async setVocab(): Promise<void> {}

  close(): Promise<void> {
    return this.engine.close();
  }
}

/** FR-Spec speculative decoding with a draft model or an EAGLE head, restricted to a workspace vocabulary. */
export class SpecDecoder implements Decoder {
  summary: DecodingSummary;
  readonly model: ModelSummary;
  private vocab?: { file: string; topK: number };
  private preferPlain = false;

  /** `measureFirst`: decode plainly until calibration shows speculation is faster here (never slower than plain). */
  constructor(private readonly spec: SpecEngine, private readonly drafter: 'draft' | 'eagle', drafterPath: string, measureFirst: boolean) {
    this.preferPlain = measureFirst;
    this.summary = {
      mode: 'speculative', active: measureFirst ? 'plain' : 'speculative', drafter: `${drafter === 'eagle' ? 'EAGLE head' : 'draft model'} ${drafterPath}`,
      ...(measureFirst ? { note: 'measuring speculative against plain decoding on this machine; decoding plainly until then' } : {}),
    };
    const i = spec.info;
    const g = openGguf(i.target);
    const arch = String(g.get('general.architecture'));
    const num = (k: string) => Number(g.get(`${arch}.${k}`) ?? 0);
    this.model = { path: i.target, arch, nVocab: i.nVocab, nLayers: num('block_count'), dModel: num('embedding_length'), weightBytes: g.tensors().reduce((s, t) => s + t.nBytes, 0), backend: i.backend, threads: i.threads, contextSize: i.contextSize };
  }

  generate(req: DecodeRequest): Promise<DecodeResult> {
    return this.run(req, this.preferPlain ? 'none' : this.drafter);
  }

  configured(req: DecodeRequest): Promise<DecodeResult> {
    return this.run(req, this.drafter);
  }

  plain(req: DecodeRequest): Promise<DecodeResult> {
    return this.run(req, 'none');
  }

  choose(plainTps: number, specTps: number): void {
    // Greedy output is identical either way, so the faster one serves the editor; re-measured whenever
    // the model or the draft vocabulary changes.
    this.preferPlain = specTps < plainTps;
    const { note: _old, ...rest } = this.summary;
    this.summary = {
      ...rest, active: this.preferPlain ? 'plain' : 'speculative',
      ...(this.preferPlain ? { note: `speculative decoding measured slower than plain on this machine (${specTps.toFixed(0)} vs ${plainTps.toFixed(0)} tokens/s); decoding plainly until re-measured` } : {}),
    };
  }

  async setVocab(file: string, topK: number): Promise<void> {
    this.vocab = { file, topK };
  }

  close(): Promise<void> {
    return this.spec.close();
  }

  private async run(req: DecodeRequest, drafter: 'none' | 'draft' | 'eagle'): Promise<DecodeResult> {
    const r = await this.spec.generate(req.prompt, {
      drafter, maxTokens: req.maxTokens, stopTokens: req.stopTokens, signal: req.signal, onToken: req.onToken,
      // FR-Spec: the drafter proposes only the workspace's most frequent ids, plus the prompt's own ids.
      ...(drafter !== 'none' && this.vocab ? { vocab: this.vocab.file, vocabTopK: this.vocab.topK, contextTokens: true } : {}),
      // A chain of 3 with context lookup first (code repeats itself: the tokens after an earlier occurrence
      // of the last 2-4 tokens cost no drafting): the fastest greedy shape in `frspec bench spec`.
      ...(drafter !== 'none' ? { chain: 3, lookup: 2 } : {}),
    });
    const stop = r.stop === 'stop_token' || r.stop === 'max_tokens' || r.stop === 'context_full' ? r.stop : 'cancelled';
    return { tokens: r.tokens, stop, nPrompt: r.nPrompt, nReused: r.nReused, promptMs: r.promptMs, decodeMs: r.totalMs - r.promptMs, steps: r.steps, tau: drafter === 'none' ? 1 : r.tau, mode: drafter === 'none' ? 'plain' : 'speculative' };
  }
}

export interface LoadOptions { threads: number; contextSize: number; measureFirst?: boolean }

/** Loads the target with the decoder the settings ask for: speculative when a drafter is given. */
export async function createDecoder(model: string, drafter: DrafterChoice, opts: LoadOptions): Promise<Decoder> {
  const kind = drafter.eagle ? 'eagle' : drafter.draft ? 'draft' : undefined;
  const load = async (what: string, f: () => Promise<Decoder>) => {
    try { return await f(); } catch (e) { throw new SidecarError(ErrorCode.ModelLoadFailed, `${what}: ${(e as Error).message}`); }
  };
  if (!kind) return load(model, async () => new PlainDecoder(await Engine.load(model, { threads: opts.threads, contextSize: opts.contextSize })));
  const drafterPath = (drafter.eagle ?? drafter.draft)!;
  if (typeof addon().loadSpec !== 'function') {
    const note = `this build of the native addon has no speculative decoding; decoding plainly (drafter ${drafterPath} not used)`;
    return load(model, async () => new PlainDecoder(await Engine.load(model, { threads: opts.threads, contextSize: opts.contextSize }), note));
  }
  const { measureFirst = true, ...engineOpts } = opts;
  return load(`${model} with ${drafterPath}`, async () => new SpecDecoder(await SpecEngine.load(model, { ...engineOpts, [kind]: drafterPath }), kind, drafterPath, measureFirst));
}
