// The engine as the rest of the extension sees it: one sidecar process (started with the editor's Node),
// the model it has loaded, its state for the status bar, and the workspace vocabulary lifecycle (built on
// first use, refreshed after saves, reloaded live). Deaths are reported once and the client restarts it.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { SidecarClient } from '../client/sidecar-client';
import { addonFile, addonProblem } from '../../native/addon-platform';
import type { CompleteParams, CompleteResult, CompletionStats, InitializeResult, StatsResult, VocabBuildResult, VocabProgress } from '../../sidecar/protocol';
import type { Settings } from '../config';
import type { EngineState } from '../ui/status-format';
import { folderForFile } from '../vocab/active-folder';
import { vocabFileFor } from '../vocab/vocab-path';

export class EngineHost implements vscode.Disposable {
  private client?: SidecarClient;
  state: EngineState = { kind: 'no-model' };
  model?: InitializeResult;
  lastStats?: StatsResult;
  lastError?: string;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly completed = new vscode.EventEmitter<CompletionStats>();
  /** Each served completion's figures (warmups left out), for the statistics view's charts. */
  readonly onDidComplete = this.completed.event;
  private statsTimer?: NodeJS.Timeout;
  private saveTimer?: NodeJS.Timeout;
  /** The workspace folder whose vocabulary the sidecar drafts with (multi-root: the active file's folder). */
  private vocabFolder?: string;

  constructor(private readonly ctx: vscode.ExtensionContext, private readonly log: vscode.OutputChannel) {}

  /** (Re)loads the configured model; with none configured, the state says so. */
  async start(settings: Settings): Promise<void> {
    if (!settings.model) { this.setState({ kind: 'no-model' }); return; }
    if (!fs.existsSync(settings.model)) { this.fail(`model file not found: ${settings.model}`); return; }
    // The VSIX carries the engine of one platform: a missing or foreign one is refused here, with the platforms
    // there are packages for, rather than as a load error in the sidecar.
    const problem = addonProblem(addonFile(this.ctx.extensionPath));
    if (problem) {
      this.fail(problem);
      void vscode.window.showErrorMessage(`FR-Spec: ${problem}`);
      return;
    }
    this.setState({ kind: 'loading', model: settings.model });
    this.client ??= new SidecarClient({
      entry: this.ctx.asAbsolutePath('dist/sidecar.js'),
      onLog: (line) => this.log.appendLine(line),
      onDied: (d) => {
        const how = d.unresponsive ? 'stopped answering and was stopped' : `stopped (${d.signal ?? `exit code ${d.code}`})`;
        const why = `the engine process ${how}; restarting in ${d.restartInMs} ms`;
        this.log.appendLine(why + (d.stderrTail ? `\n${d.stderrTail}` : ''));
        this.fail(why);
        void vscode.window.showWarningMessage(`FR-Spec: ${why}.`);
      },
      onReady: (init) => { this.model = init; this.setState({ kind: 'ready' }); },
      // The model could not be loaded again after a restart: one warning; the error state lasts until a
      // settings change or Restart Engine (the client fails requests at once meanwhile).
      onInitFailed: (message) => {
        this.fail(message);
        void vscode.window.showWarningMessage(`FR-Spec: ${message}. Fix the model setting or the file, then run Restart Engine.`);
      },
    });
    try {
      this.model = await this.client.initialize({
        model: settings.model,
        ...(settings.eagleModel ? { eagle: settings.eagleModel } : settings.draftModel ? { draft: settings.draftModel } : {}),
        topK: settings.topK, threads: settings.threads, contextSize: settings.contextSize,
      });
      this.log.appendLine(`model ready: ${settings.model} (${this.model.decoding.mode} decoding${this.model.decoding.note ? `; ${this.model.decoding.note}` : ''})`);
      this.setState({ kind: 'ready' });
      this.vocabFolder = undefined;
      await this.useVocabOf(settings, activeFolder());
    } catch (e) {
      this.fail((e as Error).message);
    }
  }

  get ready(): boolean { return this.state.kind === 'ready' || this.state.kind === 'building'; }

  async complete(params: CompleteParams, token: vscode.CancellationToken): Promise<CompleteResult> {
    const r = await this.client!.complete(params, token);
    if (!params.warmup) this.completed.fire(r.stats);
    this.refreshStatsSoon();
    return r;
  }

  async stats(): Promise<StatsResult | undefined> {
    if (!this.client || !this.ready) return this.lastStats;
    this.lastStats = await this.client.stats();
    return this.lastStats;
  }

  /**
   * Stops the engine process, so the model's memory goes back to the system; the next suggestion loads it
   * again (ensureLoaded). The process is stopped on purpose: no crash report, no automatic restart.
   */
  async unload(): Promise<void> {
    if (!this.client || !this.ready) return;
    const client = this.client;
    this.client = undefined;
    this.model = undefined;
    this.lastStats = undefined;
    this.setState({ kind: 'unloaded' });
    await client.dispose();
    this.log.appendLine('model unloaded (engine process stopped); the next suggestion loads it again');
  }

  /** After unload: loads the model again (once, however many callers ask while it loads). */
  async ensureLoaded(settings: Settings): Promise<void> {
    if (this.state.kind !== 'unloaded') return;
    if (!this.reloading) this.log.appendLine(`loading the model again after Unload Model: ${settings.model || '(no model configured)'}`);
    this.reloading ??= this.start(settings).finally(() => { this.reloading = undefined; });
    await this.reloading;
  }
  private reloading?: Promise<void>;

  async restart(settings: Settings): Promise<void> {
    this.setState({ kind: 'loading', model: settings.model });
    // A restart that cannot load the old model is no reason not to load the (maybe changed) settings' one.
    if (this.client) await this.client.restart().catch((e) => this.log.appendLine(`restart: ${(e as Error).message}`));
    await this.start(settings);
  }

  /** The vocabulary file of a workspace folder for the loaded model's tokenizer. */
  vocabFile(folder: string): string | undefined {
    if (!this.model) return undefined;
    return vocabFileFor(this.ctx.globalStorageUri.fsPath, folder, this.model.tokenizer.fingerprint);
  }

  /** Builds the workspace vocabulary in the sidecar, which loads it when done. One build at a time. */
  buildVocab(folder: string, token?: vscode.CancellationToken, onProgress?: (p: VocabProgress) => void): Promise<VocabBuildResult | undefined> {
    const out = this.vocabFile(folder);
    if (!out || !this.client) return Promise.resolve(undefined);
    const run = (async () => {
      this.setState({ kind: 'building', fraction: 0 });
      try {
        const r = await this.client!.buildVocab({ folder, out }, token, (p) => {
          this.setState({ kind: 'building', fraction: p.fraction });
          onProgress?.(p);
        });
        this.vocabFolder = folder;  // the sidecar drafts with what it just built
        this.log.appendLine(`vocabulary of ${folder}: ${r.files} files, ${r.tokens} tokens, ${r.distinct} ids → ${out} (${r.ms.toFixed(0)} ms, ${r.filesFromCache} files from cache)`);
        return r;
      } finally {
        if (this.state.kind === 'building') this.setState({ kind: 'ready' });
        this.refreshStatsSoon();
      }
    })();
    return run;
  }

  /** A saved file: refresh the vocabulary a while later (the count cache makes it incremental). */
  onSaved(settings: Settings, folder: string, delayMs = 30_000): void {
    if (!settings.autoBuildVocabulary || !this.ready) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => { void this.buildVocab(folder).catch((e) => this.log.appendLine(`vocabulary refresh failed: ${(e as Error).message}`)); }, delayMs);
  }

  /**
   * Drafts with the vocabulary of `folder` (multi-root workspaces: called when the active editor moves to a
   * file of another folder); a no-op when it is already in use. Loads the folder's file, or builds it.
   */
  async useVocabOf(settings: Settings, folder: string | undefined): Promise<void> {
    if (!folder || folder === this.vocabFolder || !this.client || !this.ready || !this.model) return;
    this.vocabFolder = folder;
    const file = this.vocabFile(folder)!;
    if (fs.existsSync(file)) {
      try {
        await this.client.request('vocab/load', { file, topK: settings.topK });
        this.log.appendLine(`drafting with the vocabulary of ${folder}`);
        return;
      } catch (e) {
        this.log.appendLine(`cannot use ${file}: ${(e as Error).message}; rebuilding it`);
      }
    }
    // First use of this workspace with this tokenizer: build it in the background.
    if (settings.autoBuildVocabulary) void this.buildVocab(folder).catch((e) => this.log.appendLine(`vocabulary build failed: ${(e as Error).message}`));
  }

  private refreshStatsSoon(): void {
    if (this.statsTimer) return;
    this.statsTimer = setTimeout(async () => {
      this.statsTimer = undefined;
      try { await this.stats(); this.changed.fire(); } catch { /* the next completion tries again */ }
    }, 250);
  }

  private fail(message: string): void {
    this.lastError = message;
    this.setState({ kind: 'error', message });
  }

  private setState(s: EngineState): void {
    this.state = s;
    this.changed.fire();
  }

  async dispose(): Promise<void> {
    clearTimeout(this.statsTimer);
    clearTimeout(this.saveTimer);
    await this.client?.dispose();
  }
}

/** The workspace folder of the active editor's file (multi-root), else the first folder. */
export function activeFolder(): string | undefined {
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const doc = vscode.window.activeTextEditor?.document;
  return folderForFile(folders, doc?.uri.scheme === 'file' ? doc.uri.fsPath : undefined);
}
