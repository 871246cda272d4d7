// FR-Spec: Show Menu… — what the status bar item opens: every control in one quick pick (enable/disable
// globally and for the active language, snooze, model, vocabulary, statistics, restart, unload, help).
// Each entry runs the command of the same name, so every control is also in the command palette.
import * as vscode from 'vscode';
import { SNOOZE_CHOICES_MIN } from '../control/snooze';
import type { UserControls } from '../control/user-controls';
import type { EngineHost } from '../engine/engine-host';
import { languageName } from '../ui/status-format';

type Entry = vscode.QuickPickItem & { command?: string; args?: unknown[] };

export async function showControlMenu(controls: UserControls, engine: EngineHost): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const lang = editor?.document.languageId;
  const globalOn = controls.enabledGlobally();
  const entries: Entry[] = [
    { label: 'Suggestions', kind: vscode.QuickPickItemKind.Separator },
    globalOn
      ? { label: '$(circle-slash) Disable Suggestions Globally', command: 'frspec.disable' }
      : { label: '$(check) Enable Suggestions Globally', command: 'frspec.enable' },
  ];
  if (lang) {
    entries.push(controls.enabledFor(lang)
      ? { label: `$(circle-slash) Disable Suggestions for ${languageName(lang)}`, command: 'frspec.disableForLanguage' }
      : { label: `$(check) Enable Suggestions for ${languageName(lang)}`, command: 'frspec.enableForLanguage' });
  }
  if (controls.snooze.active()) {
    entries.push({ label: '$(play) Resume Suggestions', description: `snoozed, ${controls.snooze.label()} left`, command: 'frspec.resume' });
  } else {
    for (const m of SNOOZE_CHOICES_MIN) entries.push({ label: `$(clock) Snooze for ${m} Minutes`, description: 'Alt+\\ still asks for one', command: 'frspec.snooze', args: [m] });
  }
  const model = engine.model?.model.path ?? vscode.workspace.getConfiguration('frspec').get<string>('model');
  entries.push(
    { label: 'Engine', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(file-binary) Select Model…', description: model ? model.split(/[\\/]/).pop() : 'none selected', command: 'frspec.selectModel' },
    { label: '$(book) Rebuild Draft Vocabulary from Workspace', command: 'frspec.rebuildVocabulary' },
    { label: '$(graph) Show Speed-up Statistics', description: 'charts', command: 'frspec.showStatistics' },
    { label: '$(list-flat) Show Statistics as Text', command: 'frspec.showStatisticsText' },
    { label: '$(debug-restart) Restart Engine', command: 'frspec.restartEngine' },
  );
  if (engine.state.kind === 'ready' || engine.state.kind === 'building') {
    entries.push({ label: '$(debug-disconnect) Unload Model', description: 'free its memory until the next suggestion', command: 'frspec.unloadModel' });
  }
  if (engine.state.kind === 'error') entries.push({ label: '$(error) Show Error Details', description: engine.lastError, command: 'frspec.showError' });
  entries.push(
    { label: 'Help', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(mortar-board) Get Started', command: 'frspec.getStarted' },
    { label: '$(output) Show Log', command: 'frspec.showLog' },
    { label: '$(gear) Open Settings', command: 'workbench.action.openSettings', args: ['@ext:frspec.frspec-complete'] },
  );
  const pick = await vscode.window.showQuickPick(entries, { title: `FR-Spec Complete — ${stateWords(engine)}`, placeHolder: 'Choose an action' });
  if (pick?.command) await vscode.commands.executeCommand(pick.command, ...(pick.args ?? []));
}

/** FR-Spec: Snooze Suggestions… without an argument (command palette): asks for how long. */
export async function askSnoozeMinutes(): Promise<number | undefined> {
  const pick = await vscode.window.showQuickPick(SNOOZE_CHOICES_MIN.map((m) => ({ label: `${m} minutes`, minutes: m })), { title: 'FR-Spec: snooze automatic suggestions for' });
  return pick?.minutes;
}

function stateWords(engine: EngineHost): string {
  const s = engine.state;
  switch (s.kind) {
    case 'no-model': return 'no model selected';
    case 'loading': return 'loading the model';
    case 'building': return `building the vocabulary (${Math.round(100 * s.fraction)}%)`;
    case 'ready': return `ready (${engine.lastStats?.decoding.active ?? engine.model?.decoding.active ?? 'plain'} decoding)`;
    case 'unloaded': return 'model unloaded';
    case 'error': return 'engine error';
  }
}
