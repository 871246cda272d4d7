// Locates the native test programs (native/tests/*.cpp) built beside the addon by `npm run build:native`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './shared';

export function nativeBin(name: string): string {
  const dirs = [process.env.FRSPEC_NATIVE_BIN_DIR, path.join(repoRoot, 'build'), path.join(repoRoot, 'build', 'Release')];
  for (const d of dirs) {
    if (d && fs.existsSync(path.join(d, name))) return path.join(d, name);
  }
  throw new Error(`native program '${name}' not found in build/ (run \`npm run build:native\`)`);
}
