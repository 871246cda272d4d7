// One loaded model: the target engine, its tokenizer, the decoder (plain or speculative) and the draft
// vocabulary in use. Loading validates every file and fails with a message that names it.
import * as fs from 'node:fs';
import { openTokenizer, type Tokenizer } from '../native/tokenizer';
import { coverage, readVocab } from '../vocab';
import { createDecoder, type Decoder } from './decoder';
import { ErrorCode, type InitializeParams, type InitializeResult, type Limits, PROTOCOL_VERSION, type VocabSummary } from './protocol';
import { specialTexts } from './prompt';
import { SidecarError } from './errors';
import { openRegular } from '../common/safe-fs';

/** A file's identity and version as the engine mapped it ('' when it cannot be read now). */
export function fileStamps(params: Pick<InitializeParams, 'model' | 'draft' | 'eagle'>): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of [params.model, params.draft, params.eagle]) {
    if (typeof file !== 'string') continue;
    try {
      const st = fs.statSync(file);
      out.set(file, `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`);
    } catch {
      out.set(file, '');
    }
  }
  return out;
}

export const DEFAULT_CONTEXT = 4096;
export const MAX_COMPLETION_TOKENS = 512;
/**
 * FR-Spec k: the drafter proposes the workspace's top-k ids plus the prompt's own ids. Typing replay, demo models,
 * 300 requests of 12 tokens (bench/results/drafter-k-2026-12-07.txt): k 2048, 4096, 8192 and 32768 accept exactly
 * the same drafts (τ 1.87), while drafting costs 0.44-0.66 ms per step at 4096-8192 and 0.96 at 32768; the paper's
 * best k for ~1B models is 16k on general text. 8192 keeps room for larger drafters' vocabularies.
 */
export const DEFAULT_TOP_K = 8192;

export class Session {
  vocab?: VocabSummary;
  private constructor(
    readonly params: InitializeParams,
    readonly tok: Tokenizer,
    readonly decoder: Decoder,
    readonly limits: Limits,
  ) {}

  static async load(params: InitializeParams): Promise<Session> {
    for (const key of ['model', 'draft', 'eagle', 'vocab'] as const) {
      const file = params[key];
      if (file === undefined) continue;
      if (typeof file !== 'string' || !file || file.includes('\0')) throw new SidecarError(ErrorCode.InvalidParams, `\`${key}\` must be a file path`);
      if (!fs.existsSync(file)) throw new SidecarError(ErrorCode.ModelLoadFailed, `${key} file not found: ${file}`);
      // A FIFO, device or folder is refused here, before anything opens it (the engine's own reader also
      // opens non-blocking and refuses them; this names the setting).
      try { fs.closeSync(openRegular(file, key === 'vocab' ? 'vocabulary file (.frv)' : 'GGUF file').fd); } catch (e) {
        throw new SidecarError(ErrorCode.ModelLoadFailed, `${key}: ${(e as Error).message}`);
      }
    }
    const stamps = fileStamps(params);
    const contextSize = params.contextSize ?? DEFAULT_CONTEXT;
    if (!Number.isInteger(contextSize) || contextSize < 256 || contextSize > 131072) {
      throw new SidecarError(ErrorCode.InvalidParams, `contextSize must be an integer from 256 to 131072, got ${contextSize}`);
    }
    let tok: Tokenizer;
    try {
      tok = openTokenizer(params.model);
    } catch (e) {
      throw new SidecarError(ErrorCode.ModelLoadFailed, (e as Error).message);
    }
    const decoder = await createDecoder(params.model, { draft: params.draft, eagle: params.eagle }, { threads: params.threads ?? 0, contextSize, measureFirst: params.calibrate !== false });
    const maxTokens = Math.min(MAX_COMPLETION_TOKENS, contextSize >> 2);
    const limits: Limits = { maxPromptTokens: contextSize - maxTokens, maxPromptChars: 16 * (contextSize - maxTokens), maxTokens };
    const session = new Session(params, tok, decoder, limits);
    session.stamps = stamps;
    if (params.vocab) await session.loadVocab(params.vocab, params.topK);
    return session;
  }

  /** Reads a .frv file (refusing one built for another tokenizer) and hands it to the decoder. */
  async loadVocab(file: string, topK = this.params.topK ?? DEFAULT_TOP_K): Promise<VocabSummary> {
    if (!Number.isInteger(topK) || topK < 1) throw new SidecarError(ErrorCode.InvalidParams, `topK must be a positive integer, got ${topK}`);
    let v;
    try {
      v = readVocab(file, { name: this.params.model, tokenizer: this.tok });
      await this.decoder.setVocab(file, topK);
    } catch (e) {
      throw new SidecarError(ErrorCode.VocabFailed, (e as Error).message);
    }
    this.vocab = {
      file, fingerprint: v.fingerprint, files: v.corpus.files, bytes: v.corpus.bytes, tokens: v.corpus.tokens,
      distinct: v.ids.length, createdAt: v.createdAt, coverage: coverage(v.counts, v.corpus.tokens), topK,
    };
    return this.vocab;
  }

  /**
   * The model file (target or drafter) that changed on disk since it was loaded, if any. The engine maps
   * these files: one rewritten in place (a re-download) would fault (SIGBUS) on its next read, so the
   * server checks this before every request and reloads instead.
   */
  changedFile(): string | undefined {
    const now = fileStamps(this.params);
    for (const [file, stamp] of this.stamps) if (now.get(file) !== stamp) return file;
    return undefined;
  }

  /** Size, modification time and inode of each mapped file when the session was loaded. */
  private stamps = new Map<string, string>();

  describe(): InitializeResult {
    return {
      protocolVersion: PROTOCOL_VERSION,
      model: this.decoder.model,
      tokenizer: { fingerprint: this.tok.fingerprint, pre: this.tok.pre, vocabSize: this.tok.vocabSize, addBos: this.tok.specials.addBos },
      specials: specialTexts(this.tok),
      decoding: this.decoder.summary,
      ...(this.vocab ? { vocab: this.vocab } : {}),
      limits: this.limits,
    };
  }

  close(): Promise<void> {
    return this.decoder.close();
  }
}
