// What the status bar item says, as pure functions of the engine's state and statistics.
import type { StatsResult } from '../../sidecar/protocol';

export type EngineState =
  | { kind: 'no-model' }
  | { kind: 'loading'; model: string }
  | { kind: 'building'; fraction: number }
  | { kind: 'ready' }
  | { kind: 'unloaded' }
  | { kind: 'error'; message: string };

/** What the user switched off, shown over the engine's state: disabled (everywhere or for the active
 * editor's language) or snoozed for a while. */
export interface UserGate { disabled?: 'global' | 'language'; languageId?: string; snoozed?: string }

export interface StatusView { text: string; tooltip: string; command: string; error: boolean }

/** Every click opens the FR-Spec menu (quick pick); the tooltip says what is going on. */
export const MENU_COMMAND = 'frspec.showMenu';

const fixed = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
/** U+2007 FIGURE SPACE is as wide as a digit: numbers padded with it keep the item's width while they change. */
const FIGURE_SPACE = '\u2007';
export const padFigures = (s: string, width: number) => FIGURE_SPACE.repeat(Math.max(0, width - s.length)) + s;

/**
 * e.g. `$(zap) 2.1× · 310 tok/s · τ 2.6` (speculative) or `$(zap) plain · 41 tok/s` (no drafter); numbers
 * are padded to a fixed number of digits so the status bar does not jump as they change.
 */
export function statusView(state: EngineState, stats?: StatsResult, gate: UserGate = {}): StatusView {
  const command = MENU_COMMAND;
  if (gate.disabled) {
    const where = gate.disabled === 'language' ? ` for ${gate.languageId ? languageName(gate.languageId) : 'this language'}` : '';
    return { text: '$(circle-slash) FR-Spec: off', tooltip: `FR-Spec Complete: suggestions are disabled${where} (click to change)`, command, error: false };
  }
  if (gate.snoozed && state.kind !== 'error') {
    return { text: `$(clock) FR-Spec: snoozed ${gate.snoozed}`, tooltip: `FR-Spec Complete: automatic suggestions snoozed, ${gate.snoozed} left; Alt+\\ still asks for one (click to resume)`, command, error: false };
  }
  switch (state.kind) {
    case 'no-model':
      return { text: '$(circle-slash) FR-Spec: no model', tooltip: 'No model configured: click, then Select Model… (or Get Started)', command, error: false };
    case 'loading':
      return { text: '$(sync~spin) FR-Spec: loading', tooltip: `Loading ${state.model}`, command, error: false };
    case 'building':
      return { text: `$(sync~spin) FR-Spec: vocabulary ${padFigures(String(Math.round(100 * state.fraction)), 3)}%`, tooltip: 'Building the draft vocabulary of this workspace', command, error: false };
    case 'unloaded':
      return { text: '$(zap) FR-Spec: unloaded', tooltip: 'FR-Spec Complete: the model is unloaded (its memory is free); the next suggestion loads it again', command, error: false };
    case 'error':
      return { text: '$(error) FR-Spec', tooltip: `FR-Spec engine error: ${state.message} (click for the menu)`, command, error: true };
    case 'ready':
      break;
  }
  if (!stats || stats.recent.count === 0) {
    return { text: '$(zap) FR-Spec', tooltip: tooltip(stats), command, error: false };
  }
  const r = stats.recent;
  const speed = `${padFigures(String(Math.round(r.tokensPerSecond)), 4)} tok/s`;
  const text = stats.decoding.active === 'speculative'
    ? `$(zap) ${stats.speedup !== undefined ? `${fixed(stats.speedup)}×` : '…×'} · ${speed} · τ ${fixed(r.tau)}`
    : `$(zap) plain · ${speed}`;
  return { text, tooltip: tooltip(stats), command, error: false };
}

const LANGUAGE_NAMES: Record<string, string> = {
  typescript: 'TypeScript', typescriptreact: 'TypeScript React', javascript: 'JavaScript', javascriptreact: 'JavaScript React',
  python: 'Python', java: 'Java', c: 'C', cpp: 'C++', csharp: 'C#', go: 'Go', rust: 'Rust', ruby: 'Ruby', php: 'PHP',
  kotlin: 'Kotlin', swift: 'Swift', dart: 'Dart', lua: 'Lua', r: 'R', perl: 'Perl', haskell: 'Haskell', scala: 'Scala',
  shellscript: 'Shell Script', powershell: 'PowerShell', sql: 'SQL', html: 'HTML', css: 'CSS', scss: 'SCSS', vue: 'Vue',
  json: 'JSON', jsonc: 'JSON with Comments', yaml: 'YAML', toml: 'TOML', xml: 'XML', markdown: 'Markdown', plaintext: 'Plain Text',
  dockerfile: 'Dockerfile', makefile: 'Makefile',
};

/** A VS Code language id as people name the language (`typescript` → `TypeScript`); unknown ids as they are. */
export function languageName(languageId: string): string {
  return LANGUAGE_NAMES[languageId] ?? languageId;
}

/**
 * The drafter as a tooltip or chart names it: `EAGLE head demo-eagle.gguf` for the sidecar's `EAGLE head
 * /long/path/demo-eagle.gguf` (the full path stays in the text report).
 */
export function drafterName(drafter: string): string {
  const m = /^(EAGLE head|draft model) (.+)$/.exec(drafter);
  return m ? `${m[1]} ${m[2].split(/[\\/]/).pop()}` : drafter;
}

function tooltip(s?: StatsResult): string {
  if (!s) return 'FR-Spec Complete: ready';
  const lines = [`FR-Spec Complete — ${s.decoding.active} decoding${s.decoding.drafter ? ` (${drafterName(s.decoding.drafter)})` : ''}`];
  if (s.decoding.note) lines.push(s.decoding.note);
  lines.push(`Recent ${s.recent.count} suggestions: ${fixed(s.recent.tokensPerSecond)} tokens/s, τ ${fixed(s.recent.tau, 2)}, latency p50 ${Math.round(s.recent.latencyMs.p50)} ms / p95 ${Math.round(s.recent.latencyMs.p95)} ms`);
  if (s.calibration) lines.push(`Plain decoding on this machine: ${fixed(s.calibration.plainTokensPerSecond)} tokens/s (calibrated)`);
  if (s.speedup !== undefined && s.decoding.active === 'speculative') lines.push(`Measured speed-up: ${fixed(s.speedup, 2)}×`);
  if (s.vocab) lines.push(`Draft vocabulary: top ${s.vocab.topK} of ${s.vocab.distinct} ids from ${s.vocab.files} files`);
  lines.push(`Requests: ${s.requests.completed} completed, ${s.requests.cancelled} cancelled · click for the menu`);
  return lines.join('\n');
}

/** The full statistics as text (FR-Spec: Show Speed-up Statistics). */
export function statisticsReport(s: StatsResult, model?: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const out = [
    `FR-Spec Complete — statistics (${new Date().toISOString()})`,
    `model: ${model ?? '(none)'}`,
    `decoding: ${s.decoding.active}${s.decoding.active !== s.decoding.mode ? ` (configured: ${s.decoding.mode})` : ''}${s.decoding.drafter ? ` with ${s.decoding.drafter}` : ''}${s.decoding.note ? ` — ${s.decoding.note}` : ''}`,
    '',
    `recent suggestions: ${s.recent.count}`,
    `  decode speed: ${fixed(s.recent.tokensPerSecond)} tokens/s   τ (tokens per target pass): ${fixed(s.recent.tau, 2)}`,
    `  latency (request → suggestion): p50 ${Math.round(s.recent.latencyMs.p50)} ms, p95 ${Math.round(s.recent.latencyMs.p95)} ms`,
    `  first token: p50 ${Math.round(s.recent.firstTokenMs.p50)} ms, p95 ${Math.round(s.recent.firstTokenMs.p95)} ms`,
    `  prompt tokens reused from the previous request: ${pct(s.recent.reusedShare)}`,
  ];
  const positions = acceptanceLine(s.recent);
  if (positions) out.push(positions);
  if (s.calibration) {
    const c = s.calibration;
    out.push('', `calibration (${c.runs} runs × ${c.tokens} tokens, ${new Date(c.at).toISOString()}):`,
      `  plain decoding: ${fixed(c.plainTokensPerSecond)} tokens/s   configured decoder: ${fixed(c.decoderTokensPerSecond)} tokens/s, τ ${fixed(c.tau, 2)}`);
  } else out.push('', 'calibration: not measured yet (runs when the engine is idle)');
  out.push(...speedupLines(s));
  if (s.vocab) {
    out.push('', `draft vocabulary: ${s.vocab.file}`,
      `  ${s.vocab.files} files, ${s.vocab.tokens} tokens, ${s.vocab.distinct} distinct ids; drafter uses the top ${s.vocab.topK}`,
      `  coverage: ${s.vocab.coverage.map((c) => `top ${c.k / 1024}k ${pct(c.share)}`).join(' · ')}`);
  }
  const q = s.requests;
  out.push('', `requests: ${q.received} received, ${q.completed} completed, ${q.cancelled} cancelled (${q.superseded} superseded by newer), ${q.failed} failed`,
    `sidecar memory: ${(s.memory.rssBytes / 1e6).toFixed(0)} MB resident; up ${(s.uptimeMs / 1000).toFixed(0)} s`);
  return out.join('\n') + '\n';
}

/**
 * The recent speculative suggestions' acceptance by draft position (the sidecar adds up each completion's
 * per-position counts), e.g. `  accepted by draft position: 1: 67% (80/120) · 2: 40% (40/100)`. (The fields are
 * spelled out beside the protocol's type so this compiles whether or not it declares them yet.)
 */
function acceptanceLine(recent: object): string | undefined {
  const { draftedAt: d, acceptedAt: a } = recent as { draftedAt?: number[]; acceptedAt?: number[] };
  if (!d?.length || !a || a.length !== d.length) return undefined;
  const parts = d.map((n, i) => `${i + 1}: ${n > 0 ? `${Math.round((100 * a[i]) / n)}%` : '–'} (${a[i]}/${n})`);
  return `  accepted by draft position: ${parts.join(' · ')}`;
}

/** What the report says about speed-up: a speed-up only when speculation is the active decoder; with plain
 * decoding active, the calibration's comparison (why speculation is off) and no "speed-up" at all. */
function speedupLines(s: StatsResult): string[] {
  if (s.decoding.active === 'speculative') {
    return s.speedup === undefined ? [] : [`measured speed-up of speculative decoding (recent decode speed ÷ calibrated plain speed): ${fixed(s.speedup, 2)}×`];
  }
  const c = s.calibration;
  if (!c || s.decoding.mode !== 'speculative') return [];
  return [`speculative decoding is off: calibrated at ${fixed(c.decoderTokensPerSecond / c.plainTokensPerSecond, 2)}× plain decoding on this machine, so plain decoding serves the suggestions (no speed-up)`];
}
