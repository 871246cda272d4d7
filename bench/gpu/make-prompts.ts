// Writes the GPU run's speculative-decoding prompts as token ids (the GPU machine has no Node): 20 FIM
// prompts from the dev split, built exactly as the speculative test suite builds them (fixtures/fim-prompts.ts).
//   npx tsx bench/gpu/make-prompts.ts OUT_FILE      (one prompt per line: path TAB space-separated ids)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fimPrompts } from '../../fixtures/fim-prompts';
import { openTokenizer } from '../../native/tokenizer';
import { demoModel, sharedDir } from '../../common/shared-data';
import { readJsonlCorpus } from '../../common/corpus';

async function main(): Promise<void> {
  const out = process.argv[2];
  const shared = sharedDir();
  const target = demoModel('demo-target');
  if (!out || !shared || !target) throw new Error('usage: make-prompts.ts OUT_FILE (needs ../shared)');
  const tok = openTokenizer(target);
  const prompts = await fimPrompts(readJsonlCorpus(path.join(shared, 'corpus', 'dev.jsonl.xz')), tok, 20, { prefixChars: 600, suffixChars: 200 });
  fs.writeFileSync(out, prompts.map((p) => `${p.path}\t${p.tokens.join(' ')}`).join('\n') + '\n');
  console.log(`${prompts.length} prompts -> ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
