// The package root (where package.json, examples/ and .cache/ live), found from this file's location so it
// works from the sources (cli/...) and from the bundle (dist/cli.js) alike.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'native', 'CMakeLists.txt'))) return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the FR-Spec Complete package root above ${__dirname}`);
  }
}
