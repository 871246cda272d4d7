// The workspace vocabulary for other engines: the top-k ids of a .frv file as SGLang's
// --speculative-token-map (a PyTorch file that torch.load(path, weights_only=True) turns into the int64
// tensor of "hot" token ids its FR-Spec drafter may propose), or as JSON. The ids are the target model's
// (the .frv was counted with its tokenizer); the forced specials (EOS, FIM tokens) come first.
import type { VocabFile } from './format';
import { coverage } from './rank';
import { torchSaveInt64 } from './torch-save';

export type ExportFormat = 'sglang' | 'json';

export interface TokenMap {
  ids: Uint32Array;
  /** Share of the counted corpus's tokens these ids cover. */
  coverage: number;
}

/** The first min(topK, n) ranked ids. */
export function hotIds(v: VocabFile, topK: number): TokenMap {
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`top-k must be a positive integer, got ${topK}`);
  const ids = v.ids.slice(0, Math.min(topK, v.ids.length));
  const share = coverage(v.counts, v.corpus.tokens, [ids.length])[0]?.share ?? 0;
  return { ids, coverage: share };
}

/** The file's bytes: a torch zip archive (sglang) or a JSON object with the ids and where they come from (json). */
export function encodeTokenMap(v: VocabFile, map: TokenMap, format: ExportFormat, source: string): Buffer {
  if (format === 'sglang') return torchSaveInt64(map.ids);
  return Buffer.from(JSON.stringify({
    format: 'frspec-token-map', version: 1, source, tokenizer: { fingerprint: v.fingerprint, pre: v.pre, vocabSize: v.vocabSize },
    corpus: v.corpus, topK: map.ids.length, coverage: map.coverage, ids: Array.from(map.ids),
  }) + '\n');
}
