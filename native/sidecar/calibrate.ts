// The speed-up the status bar shows is measured, not estimated: plain greedy decoding of the loaded model
// on this machine, on a fixed code prompt, beside the configured decoder on the same prompt. Runs in the
// background when the engine is idle, and again whenever the model changes.
import type { Tokenizer } from '../tokenizer';
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

export interface CalibrateOptions { tokens?: number; runs?: number }

/** Runs measured so far: a calibration interrupted by a completion resumes with these instead of starting over. */
export interface CalibrationProgress { plain: number[]; decoder: number[]; taus: number[] }
export const newCalibrationProgress = (): CalibrationProgress => ({ plain: [], decoder: [], taus: [] });

/** Median tokens/s of `runs` plain runs and `runs` decoder runs, interleaved so load noise hits both. */
export async function calibrate(decoder: Decoder, tok: Tokenizer, signal: AbortSignal, opts: CalibrateOptions = {},
  done: CalibrationProgress = newCalibrationProgress()): Promise<Calibration> {
  const tokens = opts.tokens ?? 48;
  const runs = opts.runs ?? 3;
  const prompt = tok.encode(PROMPT);
  const speed = (r: DecodeResult) => r.tokens.length / Math.max(1e-6, r.decodeMs / 1000);
  // No stop tokens: every run decodes exactly `tokens` tokens, whatever the model writes.
  const req = { prompt, maxTokens: tokens, stopTokens: [], signal };
  while (done.plain.length < runs) {
    const p = await decoder.plain(req);
    if (signal.aborted) throw signal.reason;
    const d = decoder.summary.mode === 'plain' ? p : await decoder.configured(req);
    if (signal.aborted) throw signal.reason;
    done.plain.push(speed(p));  // a pair is kept only when both runs finished
    done.decoder.push(speed(d));
    done.taus.push(d.tau);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { plainTokensPerSecond: median(done.plain), decoderTokensPerSecond: median(done.decoder), tau: median(done.taus), tokens, runs, at: Date.now() };
}
