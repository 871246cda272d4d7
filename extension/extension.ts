// FR-Spec Complete's entry: wires settings, the user's controls (enable, snooze), the engine host (sidecar
// process), the inline completion provider, the recent-files context, the commands, the status bar and its
// menu, and the Get Started walkthrough. The native addon is never loaded here: it lives in the sidecar
// process, so a native crash cannot take the editor down.
import * as vscode from 'vscode';
import { readSettings } from './config';
import { askSnoozeMinutes, showControlMenu } from './commands/control-menu';
import { downloadRecommendedModel } from './commands/download-model';
import { exportVocabulary } from './commands/export-vocabulary';
import { rebuildVocabulary } from './commands/rebuild-vocabulary';
import { selectModel } from './commands/select-model';
import { UserControls } from './control/user-controls';
import { RecentFiles } from './context/recent-files';
import { DefinitionContext } from './context/language-server';
import { activeFolder, EngineHost } from './engine/engine-host';
import { folderForFile } from './vocab/active-folder';
import { FrSpecInlineCompletionProvider } from './providers/inline-completion';
import { RemoteHost, setRemoteApiKey } from './remote/remote-host';
import { CompletionHistory } from './ui/completion-history';
import { StatisticsView } from './ui/statistics-view';
import { createStatusBar } from './ui/status-bar';
import { statisticsReport } from './ui/status-format';

let host: EngineHost | undefined;

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  // A log channel: VS Code's log levels (Developer: Set Log Level… → FR-Spec Complete; Trace logs every completion).
  const log = vscode.window.createOutputChannel('FR-Spec Complete', { log: true });
  const statsChannel = vscode.window.createOutputChannel('FR-Spec Statistics');
  const controls = new UserControls();
  await controls.migrateLegacySetting(log);
  const engine = (host = new EngineHost(ctx, log));
  const recent = new RecentFiles();
  const history = new CompletionHistory();
  const statsView = new StatisticsView(ctx, engine, history);
  const remote = new RemoteHost(ctx, log);
  const provider = new FrSpecInlineCompletionProvider(engine, recent, readSettings, controls, log, remote, new DefinitionContext(log));
  const languageOfEditor = (arg: unknown) => (typeof arg === 'string' ? arg : vscode.window.activeTextEditor?.document.languageId);

  const touch = (doc: vscode.TextDocument, offset?: number) => {
    if (doc.uri.scheme !== 'file' || doc.getText().length > 1_000_000) return;
    recent.touch(doc.uri.fsPath, doc.getText(), offset ?? 0);
  };
  ctx.subscriptions.push(
    log, statsChannel, controls, remote, statsView, { dispose: () => void engine.dispose() },
    engine.onDidComplete((stats) => { history.record(stats); statsView.post(); }),
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    createStatusBar(engine, controls, remote, readSettings),
    provider.onDidServe(() => void vscode.commands.executeCommand('setContext', 'frspec.servedSuggestion', true)),
    vscode.workspace.onDidOpenTextDocument((d) => touch(d)),
    vscode.window.onDidChangeActiveTextEditor((e) => {
      if (!e) return;
      provider.prime(e.document, e.selection.active);
      // Multi-root: draft with the vocabulary of the folder that holds this file.
      if (readSettings().engine === 'local') void engine.useVocabOf(readSettings(), activeFolder());
    }),
    vscode.workspace.onDidChangeTextDocument((e) => { if (e.contentChanges.length) touch(e.document, e.document.offsetAt(e.contentChanges[0].range.start)); }),
    vscode.workspace.onDidCloseTextDocument((d) => provider.cache.clear(d.uri.toString())),
    vscode.workspace.onDidSaveTextDocument((d) => {
      const f = folderForFile((vscode.workspace.workspaceFolders ?? []).map((w) => w.uri.fsPath), d.uri.fsPath);
      if (f) engine.onSaved(readSettings(), f);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const s = readSettings();
      // Remote mode runs no local engine; switching back starts it.
      if (s.engine === 'local' && ['model', 'draftModel', 'eagleModel', 'contextSize', 'threads', 'topK', 'engine'].some((k) => e.affectsConfiguration(`frspec.${k}`))) void engine.start(s);
      if (s.engine === 'remote' && e.affectsConfiguration('frspec.engine')) void engine.unload();
      if (e.affectsConfiguration('frspec.engine') || e.affectsConfiguration('frspec.remote')) void remote.client(s);
    }),
    vscode.commands.registerCommand('frspec.rebuildVocabulary', async () => { await engine.ensureLoaded(readSettings()); await rebuildVocabulary(engine, log); }),
    vscode.commands.registerCommand('frspec.exportVocabulary', async () => { await engine.ensureLoaded(readSettings()); await exportVocabulary(engine, log); }),
    vscode.commands.registerCommand('frspec.selectModel', () => selectModel(readSettings())),
    vscode.commands.registerCommand('frspec.downloadModel', () => downloadRecommendedModel(ctx.globalStorageUri, log)),
    vscode.commands.registerCommand('frspec.setRemoteApiKey', () => setRemoteApiKey(ctx)),
    vscode.commands.registerCommand('frspec.restartEngine', () => engine.restart(readSettings())),
    vscode.commands.registerCommand('frspec.showMenu', () => showControlMenu(controls, engine)),
    vscode.commands.registerCommand('frspec.enable', () => controls.setGlobal(true)),
    vscode.commands.registerCommand('frspec.disable', () => controls.setGlobal(false)),
    vscode.commands.registerCommand('frspec.enableForLanguage', (lang?: unknown) => { const l = languageOfEditor(lang); return l && controls.setLanguage(l, true); }),
    vscode.commands.registerCommand('frspec.disableForLanguage', (lang?: unknown) => { const l = languageOfEditor(lang); return l && controls.setLanguage(l, false); }),
    vscode.commands.registerCommand('frspec.snooze', async (minutes?: unknown) => {
      const m = typeof minutes === 'number' && minutes > 0 ? minutes : await askSnoozeMinutes();
      if (m) controls.snoozeFor(m);
    }),
    vscode.commands.registerCommand('frspec.resume', () => controls.resume()),
    vscode.commands.registerCommand('frspec.unloadModel', () => engine.unload()),
    vscode.commands.registerCommand('frspec.showLog', () => log.show()),
    vscode.commands.registerCommand('frspec.getStarted', () => openWalkthrough()),
    vscode.commands.registerCommand('frspec.showError', () => {
      void vscode.window.showErrorMessage(`FR-Spec: ${engine.lastError ?? 'no error'}`, 'Show Log', 'Restart Engine').then((c) => {
        if (c === 'Show Log') log.show();
        else if (c === 'Restart Engine') void engine.restart(readSettings());
      });
    }),
    vscode.commands.registerCommand('frspec.showStatistics', () => statsView.show()),
    vscode.commands.registerCommand('frspec.showStatisticsText', async () => {
      const s = await engine.stats().catch(() => engine.lastStats);
      statsChannel.clear();
      statsChannel.append(s ? statisticsReport(s, engine.model?.model.path) : `FR-Spec engine: ${engine.state.kind}${engine.lastError ? ` — ${engine.lastError}` : ''}\n`);
      statsChannel.show(true);
    }),
  );
  for (const d of vscode.workspace.textDocuments) touch(d);

  const settings = readSettings();
  // No model yet: the Get Started walkthrough, once (afterwards the status bar says "no model").
  if (settings.engine === 'remote') { void remote.client(settings); return; }  // no local engine to start
  if (!settings.model && !ctx.globalState.get<boolean>(WALKTHROUGH_SHOWN)) {
    void ctx.globalState.update(WALKTHROUGH_SHOWN, true);
    void openWalkthrough();
  }
  // Activation does not wait for the model; once it is loaded, the focused file's context is evaluated ahead.
  void engine.start(settings).then(() => { const e = vscode.window.activeTextEditor; if (e) provider.prime(e.document, e.selection.active); });
}

const WALKTHROUGH_SHOWN = 'frspec.walkthroughShown';
const openWalkthrough = () => vscode.commands.executeCommand('workbench.action.openWalkthrough', 'frspec.frspec-complete#getStarted', false);

export async function deactivate(): Promise<void> {
  await host?.dispose();
}
