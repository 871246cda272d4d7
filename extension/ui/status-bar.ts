// The status bar item: live speed figures when ready, and the loading / building / error states.
import * as vscode from 'vscode';
import type { EngineHost } from '../engine/engine-host';
import { statusView } from './status-format';

export function createStatusBar(engine: EngineHost): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('frspec.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'FR-Spec Complete';
  const update = () => {
    const v = statusView(engine.state, engine.lastStats);
    item.text = v.text;
    item.tooltip = v.tooltip;
    item.command = v.command;
    item.backgroundColor = v.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  };
  update();
  item.show();
  const sub = engine.onDidChange(update);
  return { dispose: () => { sub.dispose(); item.dispose(); } };
}
