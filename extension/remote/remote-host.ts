// The editor side of `frspec.engine: remote`: one RemoteEngine for the configured endpoint, rebuilt when the
// endpoint, dialect, model or the API key (VS Code's SecretStorage, never settings.json) changes. State changes
// reach the status bar; an unreachable server or a refused key is shown ONCE per occurrence, not per keystroke.
import * as vscode from 'vscode';
import type { Settings } from '../config';
import { RemoteEngine, type RemoteState } from './remote-engine';

export const REMOTE_KEY_SECRET = 'frspec.remote.apiKey';

export class RemoteHost implements vscode.Disposable {
  private engine?: RemoteEngine;
  private configured = '';
  private key?: string;
  private keyLoaded = false;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subs: vscode.Disposable[];
  /** The client id of this window: the server's latest-wins unit. */
  private readonly clientId = `vscode-${vscode.env.sessionId.slice(0, 12)}`;

  constructor(private readonly ctx: vscode.ExtensionContext, private readonly log: vscode.LogOutputChannel) {
    this.subs = [ctx.secrets.onDidChange((e) => { if (e.key === REMOTE_KEY_SECRET) { this.keyLoaded = false; this.engine = undefined; this.changed.fire(); } })];
  }

  get state(): RemoteState | undefined {
    return this.engine?.state;
  }

  get endpoint(): string | undefined {
    return this.configured ? this.configured.split('\n')[0] : undefined;
  }

  /** The engine for these settings, or undefined (with a message) when the endpoint is not a URL. */
  async client(s: Settings): Promise<RemoteEngine | undefined> {
    if (!this.keyLoaded) { this.key = await this.ctx.secrets.get(REMOTE_KEY_SECRET); this.keyLoaded = true; }
    const config = [s.remoteEndpoint, s.remoteDialect, s.remoteModel, this.key ?? ''].join('\n');
    if (this.engine && config === this.configured) return this.engine;
    this.configured = config;
    try {
      this.engine = new RemoteEngine({
        endpoint: s.remoteEndpoint, apiKey: this.key, dialect: s.remoteDialect, model: s.remoteModel || undefined,
        clientId: this.clientId, onState: (st) => this.onState(st),
      });
    } catch (e) {
      this.engine = undefined;
      void vscode.window.showErrorMessage(`FR-Spec: ${(e as Error).message} (setting frspec.remote.endpoint)`);
    }
    this.changed.fire();
    return this.engine;
  }

  private onState(s: RemoteState): void {
    if (s.kind === 'unreachable') {
      this.log.warn(`remote engine: ${s.message}`);
      void vscode.window.showWarningMessage(`FR-Spec: ${s.message}. Suggestions pause and retry after a short wait.`);
    } else if (s.kind === 'unauthorized') {
      this.log.error(`remote engine: ${s.message}`);
      void vscode.window.showErrorMessage(`FR-Spec: ${s.message}`, 'Set Remote API Key…').then((c) => { if (c) void vscode.commands.executeCommand('frspec.setRemoteApiKey'); });
    }
    this.changed.fire();
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
    this.changed.dispose();
  }
}

/** FR-Spec: Set Remote API Key… — kept in SecretStorage (the OS keychain where there is one). Empty removes it. */
export async function setRemoteApiKey(ctx: vscode.ExtensionContext): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: 'FR-Spec: API key of the remote engine', password: true, ignoreFocusOut: true,
    prompt: 'Sent as Authorization: Bearer KEY to frspec.remote.endpoint. Leave empty to remove the stored key.',
  });
  if (key === undefined) return;
  if (key.trim()) await ctx.secrets.store(REMOTE_KEY_SECRET, key.trim());
  else await ctx.secrets.delete(REMOTE_KEY_SECRET);
  void vscode.window.showInformationMessage(key.trim() ? 'FR-Spec: remote API key stored.' : 'FR-Spec: remote API key removed.');
}
