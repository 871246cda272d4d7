// Where a workspace's draft vocabulary lives in the extension's storage: keyed by the workspace folder and
// the tokenizer fingerprint, so another model with another tokenizer never picks up a foreign file.
import { createHash } from 'node:crypto';
import * as path from 'node:path';

export function vocabFileFor(storageDir: string, workspaceFolder: string, fingerprint: string): string {
  const key = createHash('sha256').update(`${path.resolve(workspaceFolder)}\0${fingerprint}`).digest('hex').slice(0, 16);
  return path.join(storageDir, 'vocab', `${path.basename(workspaceFolder).replace(/[^\w.-]/g, '_')}-${key}.frv`);
}
