// The CPU kernel variants (native/src/engine/cpu_variant.h): one build holds the kernels for several
// instruction sets (x86-64: v3 = AVX2, avx512, amx) and picks the best this CPU runs, or the one
// FRSPEC_CPU_VARIANT names. Every variant this CPU runs must give the same greedy completions of the demo
// models (a user's completions must not depend on which kernels their CPU picked), and a variant the CPU
// lacks, or one the build does not hold, is refused with the reason (through the real `frspec generate`).
// Each variant runs in its own process: the choice is made once per process.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { cpuKernels } from '../../native/cpu-kernels';
import { demoModel, repoRoot, requireShared } from '../helpers/shared';

const CLI = path.join(repoRoot, 'cli', 'frspec.ts');

interface Run { code: number | null; out: string; err: string }

function run(variant: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, FRSPEC_CPU_VARIANT: variant };
    const p = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
const generateWith = (variant: string, args: string[]) => run(variant, [CLI, 'generate', ...args]);

// One process per variant: greedy completions of every prompt on every model, printed as JSON.
const GREEDY_CHILD = `
const { Engine } = require('./native/engine');
const { openTokenizer } = require('./native/tokenizer');
(async () => {
  const { models, prompts, n } = JSON.parse(process.argv[1]);
  const out = {};
  for (const model of models) {
    const tok = openTokenizer(model);
    const engine = await Engine.load(model, { threads: 2 });
    out[model] = [];
    for (const p of prompts) out[model].push([...(await engine.generate(tok.encode(p), { maxTokens: n })).tokens]);
    await engine.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

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
    const models = [demoModel('demo-target')!, demoModel('demo-draft')!];
    const completions = new Map<string, Record<string, number[][]>>();
    for (const v of runnable) {
      const r = await run(v, ['-e', GREEDY_CHILD, JSON.stringify({ models, prompts, n: 48 })]);
      assert.equal(r.code, 0, `${v}: ${r.err}`);
      completions.set(v, lastJson(r.out));
    }
    const [first, ...rest] = runnable;
    for (const model of models)
      for (let i = 0; i < prompts.length; i++) {
        const want = completions.get(first)![model][i];
        assert.equal(want.length, 48, `${path.basename(model)}: 48 tokens`);
        for (const v of rest)
          assert.deepEqual(completions.get(v)![model][i], want, `${path.basename(model)}, ${v} vs ${first}: ${JSON.stringify(prompts[i])}`);
      }
  });
});
