// The models FR-Spec: Download a Recommended Model… offers: Qwen2.5-Coder base GGUFs (base, not instruct: they
// were trained for fill-in-the-middle) from Qwen's public Hugging Face repositories, and which fit this machine.
// No SHA-256 is pinned: this project's machines cannot reach the hub to read them, and a hash copied from
// memory would be worse than none. Searched on 2026-12-07 (stored copies of the hub's file pages, GitHub code):
// the LFS SHA-256 of other uploads with the same file names were there (e.g. itlwas/Qwen2.5-Coder-0.5B-Q4_K_M-GGUF,
// AIronMind/Qwen2.5-Coder-1.5B-Q4_K_M-GGUF, itlwas/Qwen2.5-Coder-7B-Q4_K_M-GGUF: their own quantizations), but not
// those of Qwen/Qwen2.5-Coder-{0.5B,1.5B,7B}-GGUF's own files, which is what this downloads; pinning another
// upload's hash would refuse the real file. The download checks the GGUF magic, and the SHA-256 against `sha256`
// when set (test/unit/model-download.test.ts: a matching and a mismatching pin against a local server) or a
// `<file>.sha256` the user puts beside it; sizes are approximate (for the fit check and the progress text).

export interface RecommendedFile {
  /** Hugging Face repository, e.g. Qwen/Qwen2.5-Coder-1.5B-GGUF. */
  repo: string;
  file: string;
  label: string;
  approxBytes: number;
  /** Parameter count (the draft pairing compares these: at most a third). */
  parameters: number;
  /** Pinned SHA-256 (hex), when known. */
  sha256?: string;
}

export interface Recommendation { target: RecommendedFile; draft?: RecommendedFile; minMemoryBytes: number }

export const HF_BASE_URL = 'https://huggingface.co';

const GB = 1e9;
export const DRAFT_0_5B: RecommendedFile = { repo: 'Qwen/Qwen2.5-Coder-0.5B-GGUF', file: 'qwen2.5-coder-0.5b-q4_k_m.gguf', label: 'Qwen2.5-Coder 0.5B Q4_K_M', approxBytes: 0.40 * GB, parameters: 494e6 };

export const RECOMMENDED: Recommendation[] = [
  { target: { repo: 'Qwen/Qwen2.5-Coder-1.5B-GGUF', file: 'qwen2.5-coder-1.5b-q4_k_m.gguf', label: 'Qwen2.5-Coder 1.5B Q4_K_M', approxBytes: 1.1 * GB, parameters: 1.54e9 }, draft: DRAFT_0_5B, minMemoryBytes: 4 * GB },
  { target: { repo: 'Qwen/Qwen2.5-Coder-7B-GGUF', file: 'qwen2.5-coder-7b-q4_k_m.gguf', label: 'Qwen2.5-Coder 7B Q4_K_M', approxBytes: 4.7 * GB, parameters: 7.62e9 }, draft: DRAFT_0_5B, minMemoryBytes: 12 * GB },
];

/** `<base>/<repo>/resolve/main/<file>`: the hub's download URL (base is a parameter so tests use loopback). */
export function downloadUrl(f: RecommendedFile, base = HF_BASE_URL): string {
  return `${base.replace(/\/+$/, '')}/${f.repo}/resolve/main/${encodeURIComponent(f.file)}`;
}

/** The recommendations this machine's memory holds (target + draft + room for the editor), best first. */
export function recommendationsFor(totalMemoryBytes: number): Recommendation[] {
  return RECOMMENDED.filter((r) => totalMemoryBytes >= r.minMemoryBytes).reverse();
}
