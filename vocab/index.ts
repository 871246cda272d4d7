// The vocabulary library's public surface: build (folder or JSONL corpus), read/write .frv files, rank
// and measure coverage. Depends only on Node and a tokenizer passed in (native/tokenizer.ts).
export { buildVocab, defaultCacheFile, type BuildOptions, type BuildProgress, type BuildResult } from './build';
export { isJsonlCorpus, readJsonlCorpus } from '../common/corpus';
export { checkTokenizer, decodeVocab, encodeVocab, readVocab, writeVocab, type CorpusStats, type VocabFile } from './format';
export { coverage, COVERAGE_KS, forcedSpecialIds, rankCounts, transferCoverage } from './rank';
export { defaultRules, type FileRules, type SkipReason } from './rules';
export type { CountingTokenizer, SpecialTokens } from './tokenizer';
export { walkFolder } from './walk';
