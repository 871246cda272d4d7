// A debounce that follows the engine's measured latency: while typing, each keystroke supersedes the last
// request, so a request is worth sending only after a pause of a fraction of what one takes. A fast engine
// (tens of ms) gets almost no delay; a slow one waits up to `maxMs` so it is not kept busy with requests
// that the next keystroke throws away.

export class AdaptiveDebounce {
  private ewma?: number;

  constructor(
    private readonly factor = 0.5,
    private readonly maxMs = 250,
    private readonly alpha = 0.2,
  ) {}

  /** One measured request → suggestion time (ms). */
  record(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    this.ewma = this.ewma === undefined ? latencyMs : this.ewma + this.alpha * (latencyMs - this.ewma);
  }

  get latencyMs(): number | undefined { return this.ewma; }

  /** How long to wait after a keystroke before asking the engine (0 before the first measurement). */
  delayMs(): number {
    return this.ewma === undefined ? 0 : Math.min(this.maxMs, Math.round(this.factor * this.ewma));
  }
}
