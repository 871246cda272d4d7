// The statistics view's page (runs in the webview, bundled by esbuild with uPlot: nothing is loaded from the
// network, the page's CSP allows only its own bundle). It draws what extension/ui/completion-history.ts
// computes and redraws on every message, so the charts follow the completions live.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartData } from '../ui/completion-history';

declare function acquireVsCodeApi(): { postMessage(msg: unknown): void };
const vscode = acquireVsCodeApi();

const css = getComputedStyle(document.body);
const fg = css.getPropertyValue('--vscode-foreground').trim() || '#888';
const grid = css.getPropertyValue('--vscode-editorWidget-border').trim() || 'rgba(128,128,128,0.3)';
const blue = css.getPropertyValue('--vscode-charts-blue').trim() || '#3794ff';
const orange = css.getPropertyValue('--vscode-charts-orange').trim() || '#d18616';
const green = css.getPropertyValue('--vscode-charts-green').trim() || '#89d185';

const axis = (label: string): uPlot.Axis => ({ label, stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } });
// Two charts a row when the panel holds two of at least 340 px side by side (the body's padding and the grid's
// gap taken out), else one a row across the panel: a panel beside the editor is often ~700 px wide.
const GAP = 16;
function width(): number {
  const cs = getComputedStyle(document.body);
  const content = document.body.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 4;
  return content >= 2 * 340 + GAP ? Math.min(640, Math.floor((content - GAP) / 2)) : Math.max(280, Math.min(900, Math.floor(content)));
}
const barPaths = uPlot.paths.bars!({ size: [0.7, 80] });
const charts = new Map<string, uPlot>();
/** The current category labels of each bar chart (read by its axis at every redraw, so they follow the data). */
const categoryLabels = new Map<string, string[]>();

/**
 * One chart per element id, made on first data and fed new data after. `categories`: a bar chart whose x values
 * are 0..n-1, labelled with these strings; `y` fixes either end of the y axis (e.g. max 100 for a percentage).
 */
function draw(id: string, title: string, data: uPlot.AlignedData, series: uPlot.Series[], xLabel: string, yLabel: string, categories?: string[], y: { min?: number; max?: number } = {}): void {
  if (categories) categoryLabels.set(id, categories);
  const existing = charts.get(id);
  if (existing) { existing.setData(data); return; }
  const el = document.getElementById(id)!;
  el.textContent = '';
  const x = axis(xLabel);
  const bars = categories !== undefined;
  // Category axes: one tick per category, room for two-line labels.
  if (bars) { x.values = (_u, v) => v.map((i) => categoryLabels.get(id)?.[i] ?? ''); x.size = 56; x.splits = (u) => [...(u.data[0] as number[])]; }
  // Bars start at 0 (an axis from the smallest bar would exaggerate the differences); x: categories 0..n-1.
  const scales: uPlot.Scales = bars
    ? { x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] }, y: { range: (_u, _min, max) => [0, y.max ?? (max > 0 ? max * 1.1 : 1)] } }
    : { x: { time: false }, ...(y.min !== undefined || y.max !== undefined ? { y: { range: (_u, min, max) => [y.min ?? min, y.max ?? max] } } : {}) };
  charts.set(id, new uPlot({
    title, width: width(), height: 220, series: [{}, ...series], axes: [x, axis(yLabel)],
    scales, legend: { show: true, live: false },
  }, data, el));
}

function render(d: ChartData): void {
  document.getElementById('summary')!.textContent = d.summary.join('\n');  // one line each (white-space: pre-line)
  const t = d.time;
  if (t.t.length) {
    draw('speed', 'Decode speed per suggestion', [t.t, t.plainTps, t.specTps] as uPlot.AlignedData,
      [{ label: 'plain tok/s', stroke: blue, paths: () => null, points: { show: true, size: 6, fill: blue } },
       { label: 'speculative tok/s', stroke: orange, paths: () => null, points: { show: true, size: 6, fill: orange } }], 'seconds', 'tokens/s');
    draw('latency', 'Latency per suggestion', [t.t, t.totalMs, t.firstTokenMs],
      [{ label: 'request → suggestion (ms)', stroke: blue, width: 1.5 }, { label: 'first token (ms)', stroke: green, width: 1.5 }], 'seconds', 'ms');
  }
  // Every 4th bin labelled (τ 1, 2, 3, 4, ≥4.75 with the default bins), or the labels run into each other.
  const tauLabels = d.tau.edges.map((e, i) => (i === d.tau.edges.length - 1 ? `≥${e}` : i % 4 === 0 ? `${e}` : ''));
  draw('tau', 'τ (tokens per target pass), speculative suggestions', [d.tau.edges.map((_, i) => i), d.tau.counts],
    [{ label: 'suggestions', stroke: orange, fill: orange, paths: barPaths, points: { show: false } }], 'τ', 'count', tauLabels);
  // Acceptance by draft position: accepted ÷ drafted at each depth, over this session's speculative suggestions.
  const a = d.acceptance;
  if (a.position.length) {
    const labels = a.position.map((p, i) => `${p}\n${a.accepted[i]}/${a.drafted[i]}`);
    draw('acceptance', 'Acceptance by draft position (accepted / drafted)', [a.position.map((_, i) => i), a.rate.map((r) => (r === null ? null : 100 * r))],
      [{ label: 'accepted %', stroke: green, fill: green, paths: barPaths, points: { show: false } }], 'draft position', '% accepted', labels, { max: 100 });
  }
  if (d.compare.labels.length) {
    draw('compare', 'Plain vs speculative (tokens/s)', [d.compare.labels.map((_, i) => i), d.compare.tokensPerSecond],
      [{ label: 'tokens/s', stroke: blue, fill: blue, paths: barPaths, points: { show: false } }], '', 'tokens/s', d.compare.labels);
  }
  if (d.coverage.k.length) {
    // Up to 100%, from the 10% step below the smallest share: an axis from 96% to 100% made 96.3% look like nothing.
    const low = Math.max(0, Math.floor((100 * Math.min(...d.coverage.share) - 1) / 10) * 10);
    draw('coverage', 'Draft vocabulary: share of the workspace\'s tokens in the top k ids', [d.coverage.k.map((k) => k / 1024), d.coverage.share.map((s) => 100 * s)],
      [{ label: 'coverage %', stroke: green, width: 2, points: { show: true, size: 6, fill: green } }], 'top k (×1024 ids)', '%', undefined, { min: low, max: 100 });
  }
}

window.addEventListener('message', (e: MessageEvent) => { if (e.data?.type === 'data') render(e.data.data as ChartData); });
window.addEventListener('resize', () => { for (const c of charts.values()) c.setSize({ width: width(), height: 220 }); });
vscode.postMessage({ type: 'ready' });
