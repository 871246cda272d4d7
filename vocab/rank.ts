// From corpus totals to the ranked list a drafter restricts its LM head to: the special tokens a drafter
// must be able to emit come first (so every top-k contains them), then every counted id by count
// descending, ties by id ascending. Ids never seen are left out: a top-k longer than the list is the list.
import type { SpecialTokens } from './tokenizer';

export interface Ranked {
  ids: Uint32Array;
  counts: Float64Array;
  /** The first `forced` entries are the specials, in the order of forcedSpecialIds(). */
  forced: number;
}

/**
 * The specials a drafter may need to emit: end of text/turn/message, every other end-of-generation id,
 * and the FIM/repository markers. BOS and PAD are never generated, so they are not forced.
 */
export function forcedSpecialIds(specials: SpecialTokens, vocabSize: number): number[] {
  const order = [
    specials.eos, specials.eot, specials.eom ?? -1, ...(specials.eog ?? []),
    specials.fimPre, specials.fimSuf, specials.fimMid, specials.fimPad, specials.fimRep, specials.fimSep,
  ];
  const out: number[] = [];
  for (const id of order) if (id >= 0 && id < vocabSize && !out.includes(id)) out.push(id);
  return out;
}

export function rankCounts(totals: Float64Array, forcedIds: readonly number[]): Ranked {
  const forced = new Set(forcedIds);
  let n = 0;
  for (let id = 0; id < totals.length; id++) if (totals[id] > 0 && !forced.has(id)) n++;
  const rest = new Uint32Array(n);
  n = 0;
  for (let id = 0; id < totals.length; id++) if (totals[id] > 0 && !forced.has(id)) rest[n++] = id;
  // Array.prototype.sort is stable and `rest` is in id order, so ties keep ascending ids.
  const sorted = Array.from(rest).sort((a, b) => totals[b] - totals[a]);
  const ids = Uint32Array.from([...forcedIds, ...sorted]);
  const counts = Float64Array.from(ids, (id) => totals[id]);
  return { ids, counts, forced: forcedIds.length };
}

export const COVERAGE_KS = [8192, 16384, 32768, 65536] as const;

/** Share of all counted token occurrences that the first k ranked ids cover, for each k. */
export function coverage(counts: Float64Array, totalTokens: number, ks: readonly number[] = COVERAGE_KS): { k: number; share: number }[] {
  return ks.map((k) => {
    let covered = 0;
    for (let i = 0; i < Math.min(k, counts.length); i++) covered += counts[i];
    return { k, share: totalTokens > 0 ? covered / totalTokens : 0 };
  });
}

/** Share of another corpus's tokens (dense `otherTotals`) covered by the first k ids of `ids`. */
export function transferCoverage(ids: Uint32Array, otherTotals: Float64Array, ks: readonly number[] = COVERAGE_KS): { k: number; share: number }[] {
  let total = 0;
  for (const c of otherTotals) total += c;
  return ks.map((k) => {
    let covered = 0;
    for (let i = 0; i < Math.min(k, ids.length); i++) covered += otherTotals[ids[i]] ?? 0;
    return { k, share: total > 0 ? covered / total : 0 };
  });
}
