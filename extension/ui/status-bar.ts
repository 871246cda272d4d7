// The status bar item: live speed figures when ready, the loading / building / unloaded / error states, and
// what the user switched off (disabled for the active language, snoozed). A click opens the FR-Spec menu.
import * as vscode from 'vscode';
import type { UserControls } from '../control/user-controls';
import type { Settings } from '../config';
import type { EngineHost } from '../engine/engine-host';
import type { RemoteHost } from '../remote/remote-host';
import { remoteStatusView } from '../remote/remote-status';
import { statusView } from './status-format';

export function createStatusBar(engine: EngineHost, controls: UserControls, remote?: RemoteHost, settings?: () => Settings): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('frspec.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'FR-Spec Complete';
  const update = () => {
    const gate = controls.gate(vscode.window.activeTextEditor?.document.languageId);
    const local = statusView(engine.state, engine.lastStats, gate);
    // Remote mode: the server's round-trip time, unless the user switched suggestions off or snoozed them.
    const v = remote && settings?.().engine === 'remote' && !gate.disabled && !gate.snoozed
      ? { ...remoteStatusView(remote.state, remote.endpoint), command: local.command } : local;
    item.text = v.text;
    item.tooltip = v.tooltip;
    item.command = v.command;
    const first = v.tooltip.split('\n')[0];
    item.accessibilityInformation = { label: first.startsWith('FR-Spec Complete') ? first : `FR-Spec Complete: ${first}`, role: 'button' };
    item.backgroundColor = v.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  };
  update();
  item.show();
  const subs = [engine.onDidChange(update), controls.onDidChange(update), vscode.window.onDidChangeActiveTextEditor(update), ...(remote ? [remote.onDidChange(update)] : [])];
  return { dispose: () => { for (const s of subs) s.dispose(); item.dispose(); } };
}
