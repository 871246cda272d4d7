// Bounds on the settings that size the engine, from this machine: a workspace (or a typo) asking for 1024
// threads or a 131072-token KV cache gets what the machine can give, with the reason logged by the caller.
// No `vscode` import: tests call these directly.
import * as os from 'node:os';

/** Cores the engine may use: `threads` 0 means all of them; more than the machine has only slows it down. */
export function boundThreads(requested: number, cores = availableCores()): number {
  if (!Number.isInteger(requested) || requested < 0) return 0;
  return Math.min(requested, cores);
}

/**
 * The largest KV cache (tokens) worth allowing on a machine with `totalBytes` of memory: an eighth of the
 * memory at 128 KiB per token (a 7B model's cache in F32), rounded down to a power of two, from 4096 to 131072.
 */
export function maxContextSize(totalBytes = os.totalmem()): number {
  const tokens = totalBytes / 8 / (128 * 1024);
  let p = 4096;
  while (p * 2 <= tokens && p < 131072) p *= 2;
  return p;
}

export function boundContextSize(requested: number, totalBytes = os.totalmem()): number {
  if (!Number.isInteger(requested)) return 4096;
  return Math.max(512, Math.min(requested, maxContextSize(totalBytes)));
}

export function availableCores(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}
