// One file's token counts, stored sparsely: a file touches a few hundred of 150k ids. Encoded as LEB128
// varint pairs (id delta, count) in increasing id order, usually 2-3 bytes per distinct token, and merged
// straight from those bytes into the corpus totals without building intermediate arrays.

/** Counts the ids of one tokenized file; reuses one dense scratch array across files. */
export class SparseCounter {
  private readonly scratch: Uint32Array;
  private touched: Uint32Array;

  constructor(readonly vocabSize: number) {
    this.scratch = new Uint32Array(vocabSize);
    this.touched = new Uint32Array(1024);
  }

  /** Varint-encoded (id delta, count) pairs of `ids`; `distinct` is the number of pairs. */
  encode(ids: ArrayLike<number>): { payload: Uint8Array; distinct: number } {
    const { scratch, vocabSize } = this;
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < vocabSize)) throw new Error(`token id ${id} is outside the vocabulary (size ${vocabSize})`);
      if (scratch[id]++ === 0) {
        if (n === this.touched.length) { const t = new Uint32Array(n * 2); t.set(this.touched); this.touched = t; }
        this.touched[n++] = id;
      }
    }
    const distinct = this.touched.subarray(0, n).sort();
    const out = new Uint8Array(n * 10);  // at most 5 bytes per u32 varint, two per pair
    let at = 0;
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const id = distinct[i];
      at = writeVarint(out, at, id - prev);
      at = writeVarint(out, at, scratch[id]);
      scratch[id] = 0;
      prev = id;
    }
    return { payload: out.slice(0, at), distinct: n };
  }
}

function writeVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) { out[at++] = (v & 0x7f) | 0x80; v >>>= 7; }
  out[at++] = v;
  return at;
}

/**
 * Adds (sign 1) or subtracts (sign -1) the counts of one encoded payload into `totals`; returns the
 * number of tokens it held. Throws (naming `what`) when the bytes are not a valid payload for this vocabulary.
 */
export function addPayload(payload: Uint8Array, totals: Float64Array, what: string, sign: 1 | -1 = 1): number {
  let at = 0;
  let id = 0;
  let tokens = 0;
  const end = payload.length;
  while (at < end) {
    let delta = 0, count = 0, shift = 0, b: number;
    do { if (at >= end || shift > 28) throw new Error(`${what}: corrupt counts at byte ${at}`); b = payload[at++]; delta |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    shift = 0;
    do { if (at >= end || shift > 28) throw new Error(`${what}: corrupt counts at byte ${at}`); b = payload[at++]; count += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    if (delta === 0 && tokens > 0) throw new Error(`${what}: corrupt counts (repeated id ${id})`);
    id += delta >>> 0;
    if (id >= totals.length || count === 0) throw new Error(`${what}: corrupt counts (id ${id}, count ${count})`);
    totals[id] += sign * count;
    tokens += count;
  }
  return tokens;
}

/** Decodes a payload into a Map id → count (for tests and inspection, not the hot path). */
export function decodePayload(payload: Uint8Array, vocabSize: number): Map<number, number> {
  const totals = new Float64Array(vocabSize);
  addPayload(payload, totals, 'payload');
  const m = new Map<number, number>();
  totals.forEach((c, id) => { if (c) m.set(id, c); });
  return m;
}
