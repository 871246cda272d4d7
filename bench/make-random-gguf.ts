// `tsx bench/make-random-gguf.ts --shape NAME --type F16|Q8_0|Q4_K_M|Q5_K_M|Q4_0 [--out F.gguf] [--seed N]`: writes one
// random-weight GGUF of a real shape (bench/random-gguf.ts), by default into .cache/models/, and says how fast.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../common/shared-data';
import { writeRandomGguf } from './random-gguf';
import { FILE_TYPES, type FileType } from './shapes';

const { values } = parseArgs({ options: { shape: { type: 'string' }, type: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } } });
if (!values.shape || !FILE_TYPES.includes(values.type as FileType)) {
  console.error(`usage: tsx bench/make-random-gguf.ts --shape NAME --type ${FILE_TYPES.join('|')} [--out F.gguf] [--seed N]`);
  process.exit(2);
}
try {
  const type = values.type as FileType;
  const out = values.out ?? path.join(repoRoot, '.cache', 'models', `random-${values.shape}-${type}.gguf`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = writeRandomGguf(values.shape, type, out, Number(values.seed ?? 1));
  const mbps = r.bytes / 1e6 / (r.ms / 1000);
  console.log(`${r.file}: ${values.shape} ${type}, ${(r.bytes / 1e9).toFixed(3)} GB in ${(r.ms / 1000).toFixed(2)} s (${mbps.toFixed(0)} MB/s); tensors by type ${JSON.stringify(r.types)}`);
} catch (e) {
  console.error(`random-gguf: ${(e as Error).message}`);
  process.exit(1);
}
