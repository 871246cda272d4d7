// FR-Spec: Show Speed-up Statistics — a webview with charts (dist/stats-view.js: uPlot bundled by esbuild;
// the CSP allows only that script and its stylesheet, so nothing is fetched and nothing leaves the machine).
// It gets the data on open and again after every completion and statistics refresh, so it updates live.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { EngineHost } from '../engine/engine-host';
import { chartData, type CompletionHistory } from './completion-history';

export class StatisticsView implements vscode.Disposable {
  private panel?: vscode.WebviewPanel;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly ctx: vscode.ExtensionContext, private readonly engine: EngineHost, private readonly history: CompletionHistory) {
    this.subs.push(engine.onDidChange(() => this.post()));
  }

  async show(): Promise<void> {
    await this.engine.stats().catch(() => undefined);  // fresh figures when the engine is up
    if (this.panel) { this.panel.reveal(undefined, true); this.post(); return; }
    const dist = vscode.Uri.joinPath(this.ctx.extensionUri, 'dist');
    const panel = (this.panel = vscode.window.createWebviewPanel('frspec.statistics', 'FR-Spec Statistics', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [dist], retainContextWhenHidden: true }));
    const w = panel.webview;
    const nonce = randomBytes(16).toString('hex');
    w.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${w.cspSource} data:; style-src ${w.cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${w.asWebviewUri(vscode.Uri.joinPath(dist, 'stats-view.css'))}">
<style>body{font-family:var(--vscode-font-family);color:var(--vscode-foreground)} .grid{display:flex;flex-wrap:wrap;gap:16px}
.chart{min-height:260px} .u-title{font-size:13px;font-weight:600} #summary{margin:8px 0 16px;opacity:.85;white-space:pre-line;line-height:1.5}</style></head>
<body><h2>FR-Spec Complete — statistics</h2><div id="summary">waiting for the first suggestion…</div>
<div class="grid"><div class="chart" id="speed"></div><div class="chart" id="latency"></div><div class="chart" id="tau"></div>
<div class="chart" id="acceptance"></div><div class="chart" id="compare"></div><div class="chart" id="coverage"></div></div>
<script nonce="${nonce}" src="${w.asWebviewUri(vscode.Uri.joinPath(dist, 'stats-view.js'))}"></script></body></html>`;
    w.onDidReceiveMessage((m: { type?: string }) => { if (m?.type === 'ready') this.post(); }, undefined, this.subs);
    panel.onDidDispose(() => { this.panel = undefined; }, undefined, this.subs);
  }

  /** New data for the charts (after a completion or a statistics refresh); nothing while the view is closed. */
  post(): void {
    if (this.panel) void this.panel.webview.postMessage({ type: 'data', data: chartData(this.history.all, this.engine.lastStats) });
  }

  dispose(): void {
    this.panel?.dispose();
    for (const s of this.subs) s.dispose();
  }
}
