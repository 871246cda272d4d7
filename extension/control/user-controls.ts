// What the user switched on or off, as VS Code sees it: `frspec.enable` (language-overridable) read for the
// active language, toggled globally or for one language, the old per-language object migrated once, and the
// window's snooze. Fires onDidChange so the status bar follows.
import * as vscode from 'vscode';
import type { UserGate } from '../ui/status-format';
import { type EnableLayers, enabledWithoutOverride, migrateLegacyEnable, resolveEnabled } from './enablement';
import { Snooze } from './snooze';

export class UserControls implements vscode.Disposable {
  readonly snooze = new Snooze();
  private tick?: NodeJS.Timeout;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly configSub = vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('frspec.enable')) this.changed.fire(); });

  /** Suggestions on for this language (its override, else the global value). */
  enabledFor(languageId: string): boolean {
    return resolveEnabled(vscode.workspace.getConfiguration('frspec', { languageId }).get('enable'), languageId);
  }

  enabledGlobally(): boolean {
    return resolveEnabled(vscode.workspace.getConfiguration('frspec').get('enable'), '*');
  }

  /** What the status bar shows over the engine's state, for the active editor's language. */
  gate(languageId?: string): UserGate {
    if (!this.enabledGlobally() && (!languageId || !this.enabledFor(languageId))) return { disabled: 'global' };
    if (languageId && !this.enabledFor(languageId)) return { disabled: 'language', languageId };
    return this.snooze.active() ? { snoozed: this.snooze.label() } : {};
  }

  /** Turns suggestions on or off everywhere (in the workspace settings when the workspace sets it). */
  async setGlobal(on: boolean): Promise<void> {
    const c = vscode.workspace.getConfiguration('frspec');
    const target = c.inspect('enable')?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await c.update('enable', on, target);
  }

  /**
   * Turns suggestions on or off for one language: the `"[lang]": {"frspec.enable": …}` override is removed
   * when the value without it is already `on` (so a later global switch still reaches this language), and
   * written otherwise.
   */
  async setLanguage(languageId: string, on: boolean): Promise<void> {
    const c = vscode.workspace.getConfiguration('frspec', { languageId });
    const layers: EnableLayers = c.inspect('enable') ?? {};
    const inWorkspace = layers.workspaceLanguageValue !== undefined;
    const target = inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    const without = enabledWithoutOverride(layers, languageId, inWorkspace ? 'workspace' : 'global');
    await c.update('enable', without === on ? undefined : on, target, true);
  }

  snoozeFor(minutes: number): void {
    this.snooze.snooze(minutes);
    this.restartTick();
    this.changed.fire();
  }

  resume(): void {
    this.snooze.resume();
    this.restartTick();
    this.changed.fire();
  }

  /** Once per activation: the object of earlier versions becomes a boolean plus language overrides. */
  async migrateLegacySetting(log: vscode.LogOutputChannel): Promise<void> {
    const c = vscode.workspace.getConfiguration('frspec');
    const i = c.inspect('enable');
    for (const [target, value] of [[vscode.ConfigurationTarget.Global, i?.globalValue], [vscode.ConfigurationTarget.Workspace, i?.workspaceValue]] as const) {
      const m = migrateLegacyEnable(value);
      if (!m) continue;
      try {
        for (const [lang, on] of Object.entries(m.languages)) await vscode.workspace.getConfiguration('frspec', { languageId: lang }).update('enable', on, target, true);
        await c.update('enable', m.global, target);  // undefined removes it: the default (true) applies
        log.info(`frspec.enable: migrated ${JSON.stringify(value)} to a boolean with language overrides`);
      } catch (e) {
        log.warn(`frspec.enable: could not migrate ${JSON.stringify(value)} (${(e as Error).message}); it is still honoured as it is`);
      }
    }
  }

  /** While snoozed, the status bar's minutes count down; at the end suggestions come back by themselves. */
  private restartTick(): void {
    clearInterval(this.tick);
    this.tick = undefined;
    if (!this.snooze.active()) return;
    this.tick = setInterval(() => {
      if (!this.snooze.active()) { clearInterval(this.tick); this.tick = undefined; }
      this.changed.fire();
    }, 15_000);
  }

  dispose(): void {
    clearInterval(this.tick);
    this.configSub.dispose();
    this.changed.dispose();
  }
}
