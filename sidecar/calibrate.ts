// The speed-up the status bar shows is measured, not estimated: plain greedy decoding of the loaded model
// on this machine beside the configured decoder on the same prompt — the editor's most recent prompt when
// there is one (its KV cache stays in place, so the next keystroke does not evaluate its prompt again after
// calibration ran in an idle gap of typing), else a fixed code prompt. Runs in the background when the engine
// is idle, and again whenever the model changes; it only seeds the per-request choice (choice.ts).
import type { Tokenizer } from '../native/tokenizer';
import type { Decoder, DecodeResult } from './decoder';
import type { Calibration } from './protocol';

const PROMPT = `import json
from pathlib import Path


def load_settings(path: Path) -> dict:
    """Reads the settings file, falling back to the defaults for missing keys."""
    defaults = {"threads": 0, "context_size": 4096, "max_tokens": 64}
    if not path.exists():
        return dict(defaults)
    with path.open("r", encoding="utf-8") as f:
        data = json.load(f)
    for key, value in defaults.items():
`;

export interface CalibrateOptions {
  tokens?: number;
  runs?: number;
  /** The prompt to decode from (default: a fixed code prompt); read when each run starts. */
  prompt?: () => Int32Array | undefined;
}

/** Runs measured so far: a calibration interrupted by a completion resumes with these instead of starting over. */
export interface CalibrationProgress { plain: number[]; decoder: number[]; taus: number[] }
export const newCalibrationProgress = (): CalibrationProgress => ({ plain: [], decoder: [], taus: [] });

/** Median tokens/s of `runs` plain runs and `runs` decoder runs, interleaved (in alternating order) so load noise hits both. */
export async function calibrate(decoder: Decoder, tok: Tokenizer, signal: AbortSignal, opts: CalibrateOptions = {},
  done: CalibrationProgress = newCalibrationProgress()): Promise<Calibration> {
  const tokens = opts.tokens ?? 48;
  const runs = opts.runs ?? 4;  // even: half the pairs start with each decoder
  const fixed = tok.encode(PROMPT);
  const speed = (r: DecodeResult) => r.tokens.length / Math.max(1e-6, r.decodeMs / 1000);
  while (done.plain.length < runs) {
    // No stop tokens: every run decodes exactly `tokens` tokens, whatever the model writes. Both runs of a
    // pair use the same prompt.
    const req = { prompt: opts.prompt?.() ?? fixed, maxTokens: tokens, stopTokens: [], signal };
    // Alternate which runs first: calibration fills idle gaps between completions (keystrokes), and the
    // second run of a pair is likelier to meet the editor's next burst of work; a fixed order would charge
    // that to one side only (seen in the e2e run: speculative measured 0.6-0.97x there, 1.3x alone).
    const decoderFirst = done.plain.length % 2 === 1 && decoder.summary.mode !== 'plain';
    const first = await (decoderFirst ? decoder.configured(req) : decoder.plain(req));
    if (signal.aborted) throw signal.reason;
    const second = decoder.summary.mode === 'plain' ? first : await (decoderFirst ? decoder.plain(req) : decoder.configured(req));
    if (signal.aborted) throw signal.reason;
    const [p, d] = decoderFirst ? [second, first] : [first, second];
    done.plain.push(speed(p));  // a pair is kept only when both runs finished
    done.decoder.push(speed(d));
    done.taus.push(d.tau);
  }
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b), m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  return { plainTokensPerSecond: median(done.plain), decoderTokensPerSecond: median(done.decoder), tau: median(done.taus), tokens, runs, at: Date.now() };
}
