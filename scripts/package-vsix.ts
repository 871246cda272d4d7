// Packs the VSIX for one platform: `vsce package --target <target>` with that platform's native addon, which the
// VSIX carries as dist/addon/<target>/frspec.node (native/addon-platform.ts loads it from there).
//   npm run package:vsix                                    this machine's platform, build/Release/frspec.node,
//                                                           -> frspec-complete.vsix
//   npm run package:vsix -- --target win32-x64 --addon build-win64/frspec.node   -> frspec-complete-win32-x64.vsix
// Without --addon, another platform's addon must already be in dist/addon/<target>/ (CI puts each runner's there).
// The addon's header must say it runs on the target (a foreign one is refused), and the VSIX must hold exactly
// that addon and no other: the file list vsce would pack is checked before packing.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileTargets, hostTarget, isSupported, packagedAddon, SUPPORTED_TARGETS } from '../native/addon-platform';

const root = path.resolve(__dirname, '..');

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const target = option('--target') ?? hostTarget();
  if (!isSupported(target)) throw new Error(`--target ${target}: not one of ${SUPPORTED_TARGETS.join(', ')}`);
  const out = path.resolve(root, option('--out') ?? (option('--target') ? `frspec-complete-${target}.vsix` : 'frspec-complete.vsix'));
  const dest = path.join(root, packagedAddon(target));
  const source = option('--addon') ? path.resolve(option('--addon')!) : target === hostTarget() ? path.join(root, 'build', 'Release', 'frspec.node') : dest;
  if (!fs.existsSync(source)) throw new Error(`no native addon for ${target}: ${source} does not exist (build it, or pass --addon FILE)`);
  const built = fileTargets(source);
  if (!built.includes(target)) throw new Error(`${source} is built for ${built.join(', ') || 'no supported platform'}, not ${target}`);
  if (path.resolve(source) !== dest) {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(source, dest);
  }

  // .vscodeignore lists what every VSIX holds; this target's addon is added to a copy of it.
  const ignoreFile = path.join(root, '.cache', `vscodeignore-${target}`);
  fs.mkdirSync(path.dirname(ignoreFile), { recursive: true });
  fs.writeFileSync(ignoreFile, `${fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').trimEnd()}\n!${packagedAddon(target).split(path.sep).join('/')}\n`);
  const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  const common = ['--ignoreFile', ignoreFile, '--no-dependencies'];
  const files = execFileSync(process.execPath, [vsce, 'ls', ...common], { cwd: root, encoding: 'utf8' }).split('\n').map((l) => l.trim()).filter(Boolean);
  const addons = files.filter((f) => f.endsWith('.node'));
  const want = packagedAddon(target).split(path.sep).join('/');
  if (addons.length !== 1 || addons[0] !== want) throw new Error(`the VSIX for ${target} would hold ${addons.join(', ') || 'no addon'} instead of ${want} alone`);

  execFileSync(process.execPath, [vsce, 'package', '--target', target, ...common, '--allow-missing-repository', '--skip-license',
    '--no-rewrite-relative-links', '-o', out], { cwd: root, stdio: 'inherit' });
  console.log(`${path.relative(root, out)}: ${target}, ${files.length} files, native engine ${want} (${(fs.statSync(dest).size / 1e6).toFixed(1)} MB)`);
}

try {
  main();
} catch (e) {
  console.error(`package-vsix: ${(e as Error).message}`);
  process.exitCode = 1;
}
