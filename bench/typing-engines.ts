// The decoders the typing benchmark compares, at engine level, without the sidecars: every keystroke's prompt
// (as `frspec bench typing` builds it, 12 tokens) through the plain engine (the plain sidecar's decoder), the
// speculative engine's plain decoding (drafter 'none', the per-request choice's plain) and its draft-model
// decoding (the sidecar's shape), in a rotating order per prompt so load hits them alike. Reports each one's
// decode ms per token after the first, and the per-prompt ratios' medians: set against bench typing's paired
// ratio, this tells what the sidecars lose or gain around the engine. (Prompt ms is not comparable: the two
// decoders of the speculative engine share one cache, so the second of them finds its prompt cached.)
//   VOCAB=V.frv [FILES=2] [ENGINE_FIRST=1] tsx bench/typing-engines.ts
// ENGINE_FIRST loads the plain engine before the speculative one (whichever is loaded second measured 3-9% slower
// per token in one process at load 12).
import * as os from 'node:os';
import { Engine } from '../native/engine';
import { SpecEngine } from '../native/spec';
import { openTokenizer } from '../native/tokenizer';
import { encodePrompt, specialTexts } from '../sidecar/prompt';
import { DRAFT_WINDOW, LOOKUP_NGRAM } from '../sidecar/decoder';
import { DEFAULT_TOP_K } from '../sidecar/session';
import { demoModelPath } from '../common/models';
import { packageRoot } from '../common/paths';
import { request, walks, type TypingOptions } from './typing';

type Decoder = 'engine' | 'none' | 'draft';

async function main() {
  const root = packageRoot();
  const model = demoModelPath(root, 'demo-target')!, draft = demoModelPath(root, 'demo-draft')!;
  const o: TypingOptions = { model, corpus: `${root}/../shared/corpus/dev.jsonl.xz`, files: Number(process.env.FILES ?? 2), keystrokes: 20, bursts: 3,
    paceMs: 0, pauseMs: 0, prefixChars: 1500, suffixChars: 500, maxTokens: 12, timeBudgetMs: 0, threads: 2, contextSize: 4096, sidecarEntry: '', llamaCpp: false };
  const tok = openTokenizer(model);
  const files = await walks(o);
  // The speculative engine's context sizes (native/spec.ts) for both, so only the decoders differ.
  const sizes = { threads: 2, contextSize: 4096, maxBatch: 256, maxLogitRows: 256 };
  const first = process.env.ENGINE_FIRST ? await Engine.load(model, sizes) : undefined;
  const spec = await SpecEngine.load(model, { draft, threads: 2, contextSize: 4096 });
  const plain = first ?? await Engine.load(model, sizes);
  const specials = specialTexts(tok);
  const msPerToken: Record<Decoder, number[]> = { engine: [], none: [], draft: [] };
  const order: Decoder[] = ['engine', 'none', 'draft'];
  let n = 0;
  for (const f of files) for (const keys of f.bursts) for (const k of keys) {
    const ids = encodePrompt(tok, request(k, f, specials, o).parts, { maxPromptTokens: 1 << 30, maxPromptChars: 1 << 30, maxTokens: 12 });
    for (let i = 0; i < order.length; i++) {
      const d = order[(i + n) % order.length];
      const r = d === 'engine' ? await plain.generate(ids, { maxTokens: 12, stopTokens: tok.specials.eog })
        : await spec.generate(ids, { drafter: d, maxTokens: 12, stopTokens: tok.specials.eog,
          ...(d === 'draft' ? { vocab: process.env.VOCAB ?? '/tmp/drafter-dev.frv', vocabTopK: DEFAULT_TOP_K, contextTokens: true, chain: 3, lookup: LOOKUP_NGRAM, draftWindow: DRAFT_WINDOW } : {}) });
      msPerToken[d].push(r.decodeMs / Math.max(1, r.tokens.length - 1));
    }
    n++;
  }
  const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const ratio = (a: Decoder, b: Decoder) => median(msPerToken[a].map((x, i) => x / msPerToken[b][i]));
  for (const d of order) console.log(`${d.padEnd(6)} decode ms per token after the first: median ${median(msPerToken[d]).toFixed(2)} (n=${msPerToken[d].length})`);
  console.log(`per-prompt median ratios: none/engine ${ratio('none', 'engine').toFixed(3)}, draft/engine ${ratio('draft', 'engine').toFixed(3)}, draft/none ${ratio('draft', 'none').toFixed(3)}`);
  console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  await spec.close();
  await plain.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
