// The native test programs' table (native/tests/programs.json): resolves each run's arguments (fixtures,
// ../shared files, environment) and judges its output. The mocha runner (test/unit/native-programs.test.ts)
// and the scripts that run other builds (under qemu or wine) use it, so both check the same things.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type FixtureSpec, fixtureFile } from '../../fixtures/random-model';
import { type DemoModel, demoModel, repoRoot, sharedDir } from './shared';

export const PROGRAMS_JSON = path.join(repoRoot, 'native', 'tests', 'programs.json');

type Arg = string | { fixture: string; spec: FixtureSpec } | { demo: DemoModel; optional?: boolean } | { demoDir: true }
  | { shared: string; optional?: boolean } | { env: string; default: string } | { randomInt: number };

export interface Expect {
  match?: string;
  count?: { pattern: string; n: number };
  lastLineJson?: { equals?: Record<string, unknown>; atLeast?: Record<string, number> };
  skipWhen?: string;
}

export interface ProgramRun {
  program: string;
  label?: string;
  title: string;
  args?: Arg[];
  env?: Record<string, string>;
  perVariant?: boolean;
  timeoutSec?: number;
  expect: Expect;
}

export interface ProgramTable { runs: ProgramRun[]; notRun: Record<string, string> }

export function programTable(): ProgramTable {
  return JSON.parse(fs.readFileSync(PROGRAMS_JSON, 'utf8')) as ProgramTable;
}

/** The run's name in reports: the program, and its label when it runs more than once. */
export const runName = (r: ProgramRun) => (r.label ? `${r.program} (${r.label})` : r.program);

/** The arguments of a run, or the reason it cannot run here (a ../shared file is absent). */
export function resolveArgs(r: ProgramRun): string[] | { skip: string } {
  const out: string[] = [];
  for (const a of r.args ?? []) {
    if (typeof a === 'string') out.push(a);
    else if ('fixture' in a) out.push(fixtureFile(a.fixture, a.spec));
    else if ('demo' in a) {
      const f = demoModel(a.demo);
      if (f) out.push(f);
      else if (!a.optional) return { skip: `../shared (${a.demo}) is absent` };
    } else if ('demoDir' in a) {
      const f = demoModel('demo-target');
      if (!f) return { skip: '../shared (demo models) is absent' };
      out.push(path.dirname(f));
    } else if ('shared' in a) {
      const dir = sharedDir();
      const f = dir && path.join(dir, a.shared);
      if (f && fs.existsSync(f)) out.push(f);
      else if (!a.optional) return { skip: `../shared/${a.shared} is absent` };
    } else if ('env' in a) out.push(process.env[a.env] ?? a.default);
    else if ('randomInt' in a) out.push(String(Math.floor(Math.random() * a.randomInt)));
    else throw new Error(`${PROGRAMS_JSON}: ${runName(r)}: unknown argument ${JSON.stringify(a)}`);
  }
  return out;
}

/** What is wrong with a run's output (undefined: it passed); `notApplicable` when skipWhen matched. */
export function judge(e: Expect, stdout: string): { problem?: string; notApplicable?: string } {
  if (e.skipWhen) {
    const m = new RegExp(e.skipWhen, 'm').exec(stdout);
    if (m) return { notApplicable: m[0] };
  }
  if (e.match && !new RegExp(e.match, 'm').test(stdout)) return { problem: `output lacks /${e.match}/` };
  if (e.count) {
    const n = stdout.match(new RegExp(e.count.pattern, 'gm'))?.length ?? 0;
    if (n !== e.count.n) return { problem: `${n} lines match /${e.count.pattern}/, expected ${e.count.n}` };
  }
  if (e.lastLineJson) {
    let last: Record<string, unknown>;
    try { last = JSON.parse(stdout.trim().split('\n').pop()!); } catch { return { problem: 'the last line is not JSON' }; }
    for (const [k, v] of Object.entries(e.lastLineJson.equals ?? {})) if (last[k] !== v) return { problem: `${k} is ${JSON.stringify(last[k])}, expected ${JSON.stringify(v)}` };
    for (const [k, v] of Object.entries(e.lastLineJson.atLeast ?? {})) if (!(Number(last[k]) >= v)) return { problem: `${k} is ${last[k]}, expected at least ${v}` };
  }
  return {};
}

export interface RunOptions {
  /** Folder of the executables (default: build/, or $FRSPEC_NATIVE_BIN_DIR). */
  binDir?: string;
  exeSuffix?: string;
  /** A program that runs the executable (qemu-aarch64, wine64), with its own arguments. */
  runner?: string[];
  env?: Record<string, string>;
  /** Multiplies every run's time limit (an emulator such as qemu-user runs a program many times slower). */
  timeoutScale?: number;
}

export interface RunResult { status: 'passed' | 'failed' | 'skipped'; why?: string; stdout: string; output: string; seconds: number }

export function executable(program: string, o: RunOptions = {}): string | undefined {
  const dirs = o.binDir ? [o.binDir] : [process.env.FRSPEC_NATIVE_BIN_DIR, path.join(repoRoot, 'build'), path.join(repoRoot, 'build', 'Release')];
  for (const d of dirs) if (d && fs.existsSync(path.join(d, program + (o.exeSuffix ?? '')))) return path.join(d, program + (o.exeSuffix ?? ''));
  return undefined;
}

/** Runs one table entry; its exit status must be 0 and its output must meet `expect`. */
export function runProgram(r: ProgramRun, o: RunOptions = {}): RunResult {
  const exe = executable(r.program, o);
  if (!exe) return { status: 'failed', why: `${r.program} was not built (run \`npm run build:native\`)`, stdout: '', output: '', seconds: 0 };
  const args = resolveArgs(r);
  if (!Array.isArray(args)) return { status: 'skipped', why: args.skip, stdout: '', output: '', seconds: 0 };
  const [cmd, ...pre] = o.runner?.length ? [...o.runner, exe] : [exe];
  const t0 = Date.now();
  const res = spawnSync(cmd, [...pre, ...args], {
    encoding: 'utf8', timeout: (r.timeoutSec ?? 120) * 1000 * (o.timeoutScale ?? 1), maxBuffer: 64 << 20, env: { ...process.env, ...r.env, ...o.env },
  });
  const stdout = res.stdout ?? '';
  const output = `${stdout}${res.stderr ?? ''}`;
  const seconds = (Date.now() - t0) / 1000;
  if (res.error) return { status: 'failed', why: res.error.message, stdout, output, seconds };
  if (res.status !== 0) return { status: 'failed', why: `exit status ${res.status}${res.signal ? ` (${res.signal})` : ''}`, stdout, output, seconds };
  // wine: a thread that faults after main returned (at exit) starts wine's debugger, and the program still exits 0.
  const crash = /^wine: Unhandled .*$/m.exec(output);
  if (crash) return { status: 'failed', why: crash[0], stdout, output, seconds };
  const j = judge(r.expect, stdout);
  if (j.problem) return { status: 'failed', why: j.problem, stdout, output, seconds };
  return { status: 'passed', why: j.notApplicable, stdout, output, seconds };
}

/** The programs in native/tests that the table neither runs nor lists as tools. */
export function unlistedPrograms(t: ProgramTable = programTable()): string[] {
  const sources = fs.readdirSync(path.join(repoRoot, 'native', 'tests')).filter((f) => f.endsWith('.cpp')).map((f) => f.slice(0, -4));
  return sources.filter((s) => !t.runs.some((r) => r.program === s) && !(s in t.notRun));
}
