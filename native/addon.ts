// Loads the native addon (build/Release/frspec.node, built by cmake-js). The same relative path works
// from the sources (native/) and from the bundles (dist/), both one level below the package root.
import * as path from 'node:path';

let cached: any;

export function addonPath(): string {
  return process.env.FRSPEC_ADDON ?? path.join(__dirname, '..', 'build', 'Release', 'frspec.node');
}

/** The raw addon module; typed wrappers live beside this file (gguf.ts, tokenizer.ts, engine.ts). */
export function addon(): any {
  if (!cached) {
    try {
      cached = require(addonPath());
    } catch (e) {
      throw new Error(`cannot load the native engine at ${addonPath()} (run \`npm run build\`): ${(e as Error).message}`);
    }
  }
  return cached;
}
