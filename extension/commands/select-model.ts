// FR-Spec: Select Model… — GGUF files from the settings and from folders users already have (Ollama by its
// model names, LM Studio by publisher/model, llama.cpp's and the Hugging Face caches), or any file picked by
// hand; each with architecture, parameters, quantization and size from its header. Picking a target also
// pairs a draft model (same tokenizer, the smallest at most a third of its size) and says why.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeModel, formatParameters, type ModelInfo, pairDraftModel } from '../../common/model-info';
import { discoverModels, knownModelFolders } from '../../common/models';
import type { Settings } from '../config';

/** One line about a model: "qwen2 · 1.5B · Q4_K_M · 1.12 GB · Ollama". */
export function modelDescription(m: ModelInfo): string {
  return [m.architecture, m.parameters ? formatParameters(m.parameters) : undefined, m.quantization, `${(m.bytes / 1e9).toFixed(2)} GB`, m.source]
    .filter(Boolean).join(' · ');
}

export const INSTRUCT_WARNING = 'instruct/chat model: completes code poorly (fill-in-the-middle needs a base model)';

export async function selectModel(settings: Settings, extraFolders: string[] = []): Promise<void> {
  const folders = [...knownModelFolders(), ...[...settings.modelFolders, ...extraFolders].map((dir) => ({ dir, source: 'settings' }))];
  const found = discoverModels(folders);
  const models = found.map((f) => describeModel(f.path, f.name ?? path.basename(f.path), f.source));
  const configured = [settings.model, settings.draftModel, settings.eagleModel].filter((f) => f && !models.some((m) => m.path === f));
  models.unshift(...configured.map((f) => describeModel(f, path.basename(f), 'from settings')));
  type Item = vscode.QuickPickItem & { model?: ModelInfo };
  const items: Item[] = [
    // Base models first: they are the ones that complete code well.
    ...[...models].sort((a, b) => Number(a.instruct) - Number(b.instruct)).map((m) => ({
      label: `${m.instruct ? '$(warning) ' : ''}${m.name}${m.path === settings.model ? ' $(check)' : ''}`,
      description: m.error ? `${m.source} · unreadable: ${m.error}` : modelDescription(m),
      detail: m.instruct ? `${INSTRUCT_WARNING} — ${m.path}` : m.path,
      model: m,
    })),
    { label: '$(folder-opened) Browse for a GGUF file…' },
    { label: '$(cloud-download) Download a Recommended Model…' },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'FR-Spec: select the target model',
    matchOnDescription: true, matchOnDetail: true,
    placeHolder: found.length ? `${found.length} GGUF files found on this machine` : `No GGUF files found in ${folders.map((f) => f.dir.replace(os.homedir(), '~')).join(', ')}`,
  });
  if (!pick) return;
  if (pick.label.includes('Download a Recommended Model')) { await vscode.commands.executeCommand('frspec.downloadModel'); return; }
  let target = pick.model;
  if (!target) {
    const uri = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'GGUF models': ['gguf'], 'All files': ['*'] }, title: 'Select a GGUF model' });
    if (!uri?.[0]) return;
    target = describeModel(uri[0].fsPath);
  }
  await useModel(target, models);
}

/** Sets the target model and the paired draft model (or none), and tells the user what was chosen and why. */
export async function useModel(target: ModelInfo, candidates: ModelInfo[]): Promise<void> {
  const config = vscode.workspace.getConfiguration('frspec');
  const pairing = pairDraftModel(target, candidates);
  await config.update('model', target.path, vscode.ConfigurationTarget.Global);
  // A draft model of another tokenizer would make the engine refuse the pair: none is better than that.
  await config.update('draftModel', pairing.draft?.path ?? '', vscode.ConfigurationTarget.Global);
  const warn = target.instruct ? ` Warning: ${target.name} is an ${INSTRUCT_WARNING}.` : '';
  const message = `FR-Spec: ${target.name} selected. ${pairing.reason}.${warn}`;
  if (target.instruct) void vscode.window.showWarningMessage(message);
  else void vscode.window.showInformationMessage(message);
}
