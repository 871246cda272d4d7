// FR-Spec: Rebuild Draft Vocabulary from Workspace — counts the workspace with the model's tokenizer in the
// sidecar (progress notification with cancel), writes the .frv into the extension's storage keyed by
// workspace and tokenizer, has the sidecar use it at once, and reports the top-k coverage.
import * as vscode from 'vscode';
import { activeFolder, type EngineHost } from '../engine/engine-host';

export async function rebuildVocabulary(engine: EngineHost, log: vscode.OutputChannel): Promise<void> {
  const folder = activeFolder();  // multi-root: the active file's folder
  if (!folder) { void vscode.window.showWarningMessage('FR-Spec: open a folder first; its files make the draft vocabulary.'); return; }
  if (!engine.ready) { void vscode.window.showWarningMessage('FR-Spec: the engine is not ready (see the status bar).'); return; }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'FR-Spec: building the draft vocabulary', cancellable: true },
    async (progress, token) => {
      let reported = 0;
      try {
        const r = await engine.buildVocab(folder, token, (p) => {
          const pct = Math.round(100 * p.fraction);
          progress.report({ increment: pct - reported, message: `${p.files}${p.filesTotal ? ` of ${p.filesTotal}` : ''} files, ${p.tokens.toLocaleString('en-US')} tokens` });
          reported = pct;
        });
        if (!r) return;
        const cov = r.coverage.map((c) => `top ${c.k / 1024}k ${(100 * c.share).toFixed(1)}%`).join(', ');
        void vscode.window.showInformationMessage(
          `FR-Spec: vocabulary of ${r.files} files (${r.tokens.toLocaleString('en-US')} tokens, ${r.distinct.toLocaleString('en-US')} distinct) ready — coverage ${cov}.`);
        log.appendLine(`vocabulary written to ${r.file}`);
      } catch (e) {
        if ((e as { code?: number }).code === -32800 || token.isCancellationRequested) void vscode.window.showInformationMessage('FR-Spec: vocabulary build cancelled.');
        else void vscode.window.showErrorMessage(`FR-Spec: vocabulary build failed: ${(e as Error).message}`);
      }
    },
  );
}
