// Runs every native test program of one build from the table that npm test uses (native/tests/programs.json,
// test/helpers/native-programs.ts): the same arguments, the same checks. For builds that cannot run here
// directly: a Windows build under wine, another CPU's under qemu-user. One result line per run, then
// "[label: ]N passed, N failed, N skipped"; exit status 1 when a run failed.
//   npx tsx scripts/native-tests.ts --bin-dir build-win64 --exe-suffix .exe --runner /usr/lib/wine/wine64 --variants v3,avx512 --label windows
//   npx tsx scripts/native-tests.ts --bin-dir build-win64 --exe-suffix .exe   (on Windows itself)
// --variants runs each perVariant program once per CPU kernel variant (FRSPEC_CPU_VARIANT); without it, once
// with the variant the program picks. --only a,b runs only those programs; --fuzz-seconds N sets gguf_fuzz's
// time (FRSPEC_FUZZ_SECONDS; the table's default is 15); --timeout-scale N multiplies the table's time limits
// (emulators: qemu-user runs the kernels tens of times slower). Fixtures are written by this machine's addon; runs
// that need ../shared skip without it.
import * as path from 'node:path';
import { removeFixtures } from '../fixtures/random-model';
import { programTable, runName, runProgram, unlistedPrograms } from '../test/helpers/native-programs';
import { repoRoot } from '../test/helpers/shared';

function option(name: string, def = ''): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

function main(): number {
  const binDir = path.resolve(repoRoot, option('--bin-dir', 'build'));
  const exeSuffix = option('--exe-suffix');
  const runner = option('--runner').split(' ').filter(Boolean);
  const variants = option('--variants').split(',').filter(Boolean);
  const label = option('--label');
  const only = option('--only').split(',').filter(Boolean);
  const fuzzSeconds = option('--fuzz-seconds');
  const timeoutScale = Number(option('--timeout-scale', '1'));
  if (fuzzSeconds) process.env.FRSPEC_FUZZ_SECONDS = fuzzSeconds;
  const table = programTable();
  const unlisted = unlistedPrograms(table);
  if (unlisted.length) throw new Error(`native/tests/programs.json does not list ${unlisted.join(', ')}`);
  const unknown = only.filter((p) => !table.runs.some((r) => r.program === p) && !(p in table.notRun));
  if (unknown.length) throw new Error(`--only: native/tests/programs.json has no program ${unknown.join(', ')}`);

  let passed = 0, failed = 0, skipped = 0;
  for (const r of table.runs.filter((r) => !only.length || only.includes(r.program))) {
    for (const v of r.perVariant && variants.length ? variants : [undefined]) {
      const name = runName(r) + (v ? ` [${v}]` : '');
      const res = runProgram(r, { binDir, exeSuffix, runner, env: v ? { FRSPEC_CPU_VARIANT: v } : {}, timeoutScale });
      const secs = `${res.seconds.toFixed(1)} s`;
      if (res.status === 'skipped') {
        skipped++;
        console.log(`SKIP ${name}: ${res.why}`);
      } else if (res.status === 'failed') {
        failed++;
        console.log(`FAIL ${name} (${secs}): ${res.why}\n${res.output.trim().split('\n').slice(-20).map((l) => `    ${l}`).join('\n')}`);
      } else {
        passed++;
        const said = res.why ? `not applicable here: ${res.why}` : res.stdout.trim().split('\n').pop()?.slice(0, 120);
        console.log(`PASS ${name} (${secs}): ${said}`);
      }
    }
  }
  removeFixtures();
  console.log(`${label ? `${label}: ` : ''}${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed ? 1 : 0;
}

process.exitCode = main();
