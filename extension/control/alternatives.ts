// How many other suggestions an explicit request (Alt+\, or cycling with Alt+] / Alt+[) asks the engine for:
// `frspec.alternatives.count`, besides the greedy suggestion that always comes first. Each one costs one more
// greedy decode, so automatic requests (typing) never ask for any. Pure: the unit tests load it.

/** The default (3 others: up to 4 suggestions to cycle through). */
export const DEFAULT_ALTERNATIVES = 3;
/** The most the sidecar decodes per request (sidecar/params.ts MAX_ALTERNATIVES; a test checks they agree). */
export const MAX_ALTERNATIVES = 4;

/** The setting as read: an integer 0…MAX_ALTERNATIVES (fractions round down, out of range is clamped, anything else is the default). */
export function alternativesCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DEFAULT_ALTERNATIVES;
  return Math.max(0, Math.min(MAX_ALTERNATIVES, Math.floor(value)));
}

/** The `alternatives` field of a complete request: only when asked explicitly and the setting wants some. */
export function alternativesRequest(explicit: boolean, count: number): { alternatives?: number } {
  return explicit && count > 0 ? { alternatives: count } : {};
}
