// Loads the native addon: build/Release/frspec.node (built here by cmake-js), or in a VSIX the one packaged for
// this platform, dist/addon/<platform>-<arch>/frspec.node (addon-platform.ts). The package root is one level
// above both the sources (native/) and the bundles (dist/). A missing or foreign addon is refused with one
// message that names the supported platforms.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addonFile, addonProblem } from './addon-platform';

const packageRoot = path.join(__dirname, '..');

let cached: any;

export function addonPath(): string {
  return process.env.FRSPEC_ADDON ?? addonFile(packageRoot);
}

/** The raw addon module; typed wrappers live beside this file (gguf.ts, tokenizer.ts, engine.ts). */
export function addon(): any {
  if (!cached) {
    // A checkout (the C++ sources are here) that has not built the addon yet: say how to build it.
    if (!fs.existsSync(addonPath()) && fs.existsSync(path.join(packageRoot, 'native', 'CMakeLists.txt')))
      throw new Error(`the native engine is not built (${addonPath()}): run \`npm run build\``);
    const problem = addonProblem(addonPath());
    if (problem) throw new Error(problem);
    try {
      cached = require(addonPath());
    } catch (e) {
      throw new Error(`cannot load the native engine at ${addonPath()} (run \`npm run build\`): ${(e as Error).message}`);
    }
  }
  return cached;
}
