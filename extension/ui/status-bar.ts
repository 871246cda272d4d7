// The status bar item: live speed figures when ready, the loading / building / unloaded / error states, and
// what the user switched off (disabled for the active language, snoozed). A click opens the FR-Spec menu.
import * as vscode from 'vscode';
import type { UserControls } from '../control/user-controls';
import type { EngineHost } from '../engine/engine-host';
import { statusView } from './status-format';

export function createStatusBar(engine: EngineHost, controls: UserControls): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('frspec.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'FR-Spec Complete';
  const update = () => {
    const v = statusView(engine.state, engine.lastStats, controls.gate(vscode.window.activeTextEditor?.document.languageId));
    item.text = v.text;
    item.tooltip = v.tooltip;
    item.command = v.command;
    const first = v.tooltip.split('\n')[0];
    item.accessibilityInformation = { label: first.startsWith('FR-Spec Complete') ? first : `FR-Spec Complete: ${first}`, role: 'button' };
    item.backgroundColor = v.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  };
  update();
  item.show();
  const subs = [engine.onDidChange(update), controls.onDidChange(update), vscode.window.onDidChangeActiveTextEditor(update)];
  return { dispose: () => { for (const s of subs) s.dispose(); item.dispose(); } };
}
