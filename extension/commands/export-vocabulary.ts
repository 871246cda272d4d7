// FR-Spec: Export Draft Vocabulary for a Server… — writes the workspace's draft vocabulary (the .frv the
// engine built with the model's tokenizer) as SGLang's --speculative-token-map file or JSON, so a team's GPU
// server drafts with this code's most frequent tokens (docs/deploy.md). Pure Node (vocab/export.ts): the
// extension still never loads the native addon.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { encodeTokenMap, type ExportFormat, hotIds } from '../../vocab/export';
import { readVocab } from '../../vocab/format';
import { activeFolder, type EngineHost } from '../engine/engine-host';

export async function exportVocabulary(engine: EngineHost, log: vscode.OutputChannel): Promise<void> {
  const folder = activeFolder();  // multi-root: the active file's folder
  if (!folder) { void vscode.window.showWarningMessage('FR-Spec: open a folder first; its vocabulary is what gets exported.'); return; }
  const frv = engine.vocabFile(folder);
  if (!frv || !fs.existsSync(frv)) {
    void vscode.window.showWarningMessage('FR-Spec: this workspace has no draft vocabulary yet; run "FR-Spec: Rebuild Draft Vocabulary from Workspace" first.');
    return;
  }
  const format = await vscode.window.showQuickPick([
    { label: 'SGLang token map (.pt)', description: '--speculative-token-map for EAGLE + FR-Spec', format: 'sglang' as ExportFormat },
    { label: 'JSON', description: 'ids with the tokenizer and coverage', format: 'json' as ExportFormat },
  ], { title: 'FR-Spec: export the draft vocabulary for a server' });
  if (!format) return;
  const k = await vscode.window.showInputBox({
    title: 'How many of the most frequent token ids (top-k)?', value: '32768',
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 1 << 24 ? undefined : 'a positive integer, e.g. 8192, 16384 or 32768'),
  });
  if (!k) return;
  const topK = Number(k.trim());
  const ext = format.format === 'sglang' ? 'pt' : 'json';
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(folder, `frspec-token-map-${topK >= 1024 ? `${topK >> 10}k` : topK}.${ext}`)),
    filters: format.format === 'sglang' ? { 'PyTorch tensor': ['pt'] } : { JSON: ['json'] },
  });
  if (!target) return;
  try {
    const v = readVocab(frv);
    const map = hotIds(v, topK);
    fs.writeFileSync(target.fsPath, encodeTokenMap(v, map, format.format, frv));
    log.appendLine(`exported ${map.ids.length} ids of ${frv} to ${target.fsPath} (${format.format})`);
    const copy = format.format === 'sglang' ? 'Copy SGLang flag' : undefined;
    const choice = await vscode.window.showInformationMessage(
      `FR-Spec: wrote ${map.ids.length} token ids covering ${(100 * map.coverage).toFixed(1)}% of this workspace's tokens to ${path.basename(target.fsPath)}.`,
      ...(copy ? [copy] : []));
    if (choice === copy) await vscode.env.clipboard.writeText(`--speculative-token-map ${target.fsPath}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`FR-Spec: export failed: ${(e as Error).message}`);
  }
}
