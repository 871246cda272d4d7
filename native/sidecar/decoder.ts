// The one function every completion goes through: `decoder.generate()`. Today it is plain greedy decoding
// on the target (native/engine.ts); with a drafter configured and the speculative engine available
// (native/spec.ts, issue 4) it becomes FR-Spec speculative decoding — same inputs, same greedy output.
// `plain()` always decodes without speculation: calibration measures the speed-up against it.
import type { Engine } from '../engine';
import type { DecodingSummary } from './protocol';

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
}

export interface Decoder {
  readonly summary: DecodingSummary;
  generate(req: DecodeRequest): Promise<DecodeResult>;
  plain(req: DecodeRequest): Promise<DecodeResult>;
  /** Uses a new draft vocabulary (FR-Spec top-k); a no-op for plain decoding. */
  setVocab(file: string, topK: number): Promise<void>;
  close(): Promise<void>;
}

export interface DrafterChoice { draft?: string; eagle?: string }

/** Plain greedy decoding on the target; `note` says why speculation is off when a drafter was asked for. */
export class PlainDecoder implements Decoder {
  readonly summary: DecodingSummary;
  constructor(private readonly engine: Engine, note?: string) {
    this.summary = { mode: 'plain', ...(note ? { note } : {}) };
  }

  generate(req: DecodeRequest): Promise<DecodeResult> {
    return this.plain(req);
  }

  async plain(req: DecodeRequest): Promise<DecodeResult> {
    const r = await this.engine.generate(req.prompt, {
      maxTokens: req.maxTokens, stopTokens: req.stopTokens, signal: req.signal, onToken: req.onToken,
    });
    return {
      tokens: r.tokens, stop: r.stop === 'stop_token' ? 'stop_token' : r.stop,
      nPrompt: r.nPrompt, nReused: r.nReused, promptMs: r.promptMs, decodeMs: r.decodeMs, steps: r.tokens.length,
    };
  }

  async setVocab(): Promise<void> {}

  close(): Promise<void> {
    return this.engine.close();
  }
}

/** Picks the decoder for a loaded target: speculative when a drafter is configured and available. */
export async function createDecoder(engine: Engine, drafter: DrafterChoice): Promise<Decoder> {
  const wanted = drafter.eagle ?? drafter.draft;
  if (!wanted) return new PlainDecoder(engine);
  return new PlainDecoder(engine, `speculative decoding is not available in this build yet; decoding plainly (drafter ${wanted} not used)`);
}
