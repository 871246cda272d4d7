// Snoozing: automatic suggestions pause until a moment, then come back by themselves. Pure (the clock is a
// parameter) so the timing is unit-tested; the window's status bar and the quick pick read it.

export const SNOOZE_CHOICES_MIN = [5, 30, 60] as const;

export class Snooze {
  private until = 0;

  /** Pauses automatic suggestions for `minutes` from `now` (a later snooze replaces an earlier one). */
  snooze(minutes: number, now = Date.now()): void {
    if (!(minutes > 0)) throw new RangeError(`snooze minutes must be positive, got ${minutes}`);
    this.until = now + minutes * 60_000;
  }

  resume(): void {
    this.until = 0;
  }

  /** Milliseconds left (0 when not snoozed or when the snooze has run out). */
  remainingMs(now = Date.now()): number {
    return Math.max(0, this.until - now);
  }

  active(now = Date.now()): boolean {
    return this.remainingMs(now) > 0;
  }

  /** What the status bar and the menu say: whole minutes, rounded up ("1 min" until the last second). */
  label(now = Date.now()): string {
    const ms = this.remainingMs(now);
    return ms > 0 ? `${Math.ceil(ms / 60_000)} min` : '';
  }
}
