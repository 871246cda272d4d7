// FR-Spec: Select Model… — GGUF files from the settings and from folders users already have (Ollama's
// blobs, LM Studio's and llama.cpp's caches, the Hugging Face cache), or any file picked by hand.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { discoverModels, knownModelFolders } from '../../cli/models';
import type { Settings } from '../config';

export async function selectModel(settings: Settings): Promise<void> {
  const folders = [...knownModelFolders(), ...settings.modelFolders.map((dir) => ({ dir, source: 'settings' }))];
  const found = discoverModels(folders);
  const configured = [settings.model, settings.draftModel, settings.eagleModel].filter(Boolean);
  type Item = vscode.QuickPickItem & { file?: string };
  const items: Item[] = [
    ...configured.map((f) => ({ label: path.basename(f), description: 'from settings', detail: f, file: f })),
    ...found.filter((f) => !configured.includes(f.path)).map((f) => ({ label: path.basename(f.path), description: `${f.source} · ${(f.bytes / 1e9).toFixed(2)} GB`, detail: f.path, file: f.path })),
    { label: '$(folder-opened) Browse for a GGUF file…' },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'FR-Spec: select the target model',
    placeHolder: found.length ? `${found.length} GGUF files found on this machine` : `No GGUF files found in ${folders.map((f) => f.dir.replace(os.homedir(), '~')).join(', ')}`,
  });
  if (!pick) return;
  let file = pick.file;
  if (!file) {
    const uri = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'GGUF models': ['gguf'], 'All files': ['*'] }, title: 'Select a GGUF model' });
    file = uri?.[0]?.fsPath;
  }
  if (file) await vscode.workspace.getConfiguration('frspec').update('model', file, vscode.ConfigurationTarget.Global);
}
