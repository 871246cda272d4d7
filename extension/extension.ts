// FR-Spec Complete's entry: wires settings, the engine host (sidecar process), the inline completion
// provider, the recent-files context, the commands and the status bar. The native addon is never loaded
// here: it lives in the sidecar process, so a native crash cannot take the editor down.
import * as vscode from 'vscode';
import { readSettings } from './config';
import { exportVocabulary } from './commands/export-vocabulary';
import { rebuildVocabulary } from './commands/rebuild-vocabulary';
import { firstRun, selectModel } from './commands/select-model';
import { RecentFiles } from './context/recent-files';
import { EngineHost } from './engine/engine-host';
import { FrSpecInlineCompletionProvider } from './providers/inline-completion';
import { createStatusBar } from './ui/status-bar';
import { statisticsReport } from './ui/status-format';

let host: EngineHost | undefined;

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('FR-Spec Complete');
  const statsChannel = vscode.window.createOutputChannel('FR-Spec Statistics');
  const engine = (host = new EngineHost(ctx, log));
  const recent = new RecentFiles();
  const provider = new FrSpecInlineCompletionProvider(engine, recent, readSettings, log);
  const folderOf = () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;

  const touch = (doc: vscode.TextDocument, offset?: number) => {
    if (doc.uri.scheme !== 'file' || doc.getText().length > 1_000_000) return;
    recent.touch(doc.uri.fsPath, doc.getText(), offset ?? 0);
  };
  ctx.subscriptions.push(
    log, statsChannel, { dispose: () => void engine.dispose() },
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    createStatusBar(engine),
    vscode.workspace.onDidOpenTextDocument((d) => touch(d)),
    vscode.window.onDidChangeActiveTextEditor((e) => { if (e) provider.prime(e.document, e.selection.active); }),
    vscode.workspace.onDidChangeTextDocument((e) => { if (e.contentChanges.length) touch(e.document, e.document.offsetAt(e.contentChanges[0].range.start)); }),
    vscode.workspace.onDidCloseTextDocument((d) => provider.cache.clear(d.uri.toString())),
    vscode.workspace.onDidSaveTextDocument(() => { const f = folderOf(); if (f) engine.onSaved(readSettings(), f); }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (['model', 'draftModel', 'eagleModel', 'contextSize', 'threads', 'topK'].some((k) => e.affectsConfiguration(`frspec.${k}`))) void engine.start(readSettings());
    }),
    vscode.commands.registerCommand('frspec.rebuildVocabulary', () => rebuildVocabulary(engine, log)),
    vscode.commands.registerCommand('frspec.exportVocabulary', () => exportVocabulary(engine, log)),
    vscode.commands.registerCommand('frspec.selectModel', () => selectModel(readSettings())),
    vscode.commands.registerCommand('frspec.restartEngine', () => engine.restart(readSettings())),
    vscode.commands.registerCommand('frspec.showError', () => {
      void vscode.window.showErrorMessage(`FR-Spec: ${engine.lastError ?? 'no error'}`, 'Show Log', 'Restart Engine').then((c) => {
        if (c === 'Show Log') log.show();
        else if (c === 'Restart Engine') void engine.restart(readSettings());
      });
    }),
    vscode.commands.registerCommand('frspec.showStatistics', async () => {
      const s = await engine.stats().catch(() => engine.lastStats);
      statsChannel.clear();
      statsChannel.append(s ? statisticsReport(s, engine.model?.model.path) : `FR-Spec engine: ${engine.state.kind}${engine.lastError ? ` — ${engine.lastError}` : ''}\n`);
      statsChannel.show(true);
    }),
  );
  for (const d of vscode.workspace.textDocuments) touch(d);

  const settings = readSettings();
  if (!settings.model) void firstRun();
  // Activation does not wait for the model; once it is loaded, the focused file's context is evaluated ahead.
  void engine.start(settings).then(() => { const e = vscode.window.activeTextEditor; if (e) provider.prime(e.document, e.selection.active); });
}

export async function deactivate(): Promise<void> {
  await host?.dispose();
}
