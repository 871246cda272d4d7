// The CPU kernel variants (native/src/engine/cpu_variant.h): one build holds the kernels for several
// instruction sets (x86-64: v3 = AVX2, avx512, amx) and picks the best this CPU runs, or the one
// FRSPEC_CPU_VARIANT names. Every variant this CPU runs must give the same greedy completions of the demo
// models (a user's completions must not depend on which kernels their CPU picked), and a variant the CPU
// lacks, or one the build does not hold, is refused with the reason. Each variant runs in its own process
// (the choice is made once per process), through the real `frspec generate`.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { cpuKernels } from '../../native/cpu-kernels';
import { demoModel, repoRoot, requireShared } from '../helpers/shared';

const CLI = path.join(repoRoot, 'cli', 'frspec.ts');

interface Run { code: number | null; out: string; err: string }

function generateWith(variant: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, FRSPEC_CPU_VARIANT: variant };
    const p = spawn(process.execPath, ['--import', 'tsx', CLI, 'generate', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

describe('cpu kernel variants', function () {
  this.timeout(180000);
  const cpu = cpuKernels();
  const runnable = cpu.variants.filter((v) => v.runsHere).map((v) => v.name);

  it('lists the variants of this build and uses the best one that runs here', function () {
    assert.ok(runnable.length >= 1, JSON.stringify(cpu));
    if (process.arch === 'x64' && cpu.variants.length > 1) assert.deepEqual(cpu.variants.map((v) => v.name), ['v3', 'avx512', 'amx']);
    const forced = process.env.FRSPEC_CPU_VARIANT;
    assert.equal(cpu.chosen, forced && forced !== 'auto' ? forced : runnable[runnable.length - 1]);
    assert.match(cpu.summary!, new RegExp(`^${cpu.chosen} \\(.+\\), chosen from: ${runnable.join(', ')}`));
    for (const v of cpu.variants) if (!v.runsHere) assert.ok(v.missing && v.missing.length > 0, `${v.name} says what the CPU lacks`);
  });

  it('refuses a variant this CPU lacks, or one the build does not hold, with the reason', async function () {
    const model = demoModel('demo-draft') ?? this.skip();
    const unknown = await generateWith('avx9000', ['--model', model, '--prompt', 'x', '-n', '1']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /FRSPEC_CPU_VARIANT=avx9000: this build has no such CPU kernel variant \(it has: .*v3/);
    const lacking = cpu.variants.find((v) => !v.runsHere);
    if (!lacking) return;  // this CPU runs them all
    const r = await generateWith(lacking.name, ['--model', model, '--prompt', 'x', '-n', '1']);
    assert.notEqual(r.code, 0);
    assert.ok(r.err.includes(`FRSPEC_CPU_VARIANT=${lacking.name}: this CPU lacks ${lacking.missing}`), r.err);
  });

  it('gives the same greedy tokens with every variant this CPU runs (demo target and draft models)', async function () {
    requireShared(this);
    if (runnable.length < 2) this.skip();
    const prompts = [
      'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
      'import { readFileSync } from "node:fs";\n\nexport function loadConfig(path: string) {\n',
    ];
    for (const name of ['demo-target', 'demo-draft'] as const) {
      const model = demoModel(name)!;
      for (const prompt of prompts) {
        const tokens = new Map<string, number[]>();
        for (const v of runnable) {
          const r = await generateWith(v, ['--model', model, '--prompt', prompt, '-n', '48', '--threads', '2', '--json']);
          assert.equal(r.code, 0, `${v}: ${r.err}`);
          tokens.set(v, lastJson(r.out).tokens);
        }
        const [first, ...rest] = runnable;
        assert.ok(tokens.get(first)!.length > 0, `${name}: a completion`);
        for (const v of rest) assert.deepEqual(tokens.get(v), tokens.get(first), `${name}, ${v} vs ${first}: ${JSON.stringify(prompt)}`);
      }
    }
  });
});
