// The completion path: keystroke → the user's gate (enabled, snoozed, manual mode, rest of the line) →
// typed-along cache → adaptive debounce → prefix/suffix windows and recent-file chunks → FIM prompt by model
// family → one sidecar request (cancelled with VS Code's token) → cleaned suggestion. With `frspec.engine:
// remote` the same windows and chunks go to a server instead (extension/remote/), through the same cache,
// debounce, cancellation and postprocessing.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { TypedAlongCache } from '../cache/typed-along';
import type { Settings } from '../config';
import { alternativesRequest } from '../control/alternatives';
import { AdaptiveDebounce } from '../control/debounce';
import { whyNoRequest } from '../control/enablement';
import type { UserControls } from '../control/user-controls';
import { prefixWindow, suffixWindow } from '../context/windows';
import type { RecentFiles } from '../context/recent-files';
import { definitionBudget, selectDefinitionChunks, shareContextBudget } from '../context/definitions';
import { type DefinitionContext, within } from '../context/language-server';
import type { EngineHost } from '../engine/engine-host';
import { postprocess, requestRules, type CursorContext } from '../postprocess/multiline';
import { promptParts } from '../prompt/request';
import { lineCommentFor } from '../prompt/templates';
import type { RemoteHost } from '../remote/remote-host';
import { remoteRequest } from '../remote/remote-request';

export class FrSpecInlineCompletionProvider implements vscode.InlineCompletionItemProvider {
  readonly cache = new TypedAlongCache();
  readonly debounce = new AdaptiveDebounce();
  /** Shown suggestions (the walkthrough's "try a completion" step completes on the first). */
  served = 0;
  private readonly onServed = new vscode.EventEmitter<void>();
  readonly onDidServe = this.onServed.event;

  constructor(
    private readonly engine: EngineHost,
    private readonly recent: RecentFiles,
    private readonly settings: () => Settings,
    private readonly controls: UserControls,
    private readonly log: vscode.LogOutputChannel,
    private readonly remote?: RemoteHost,
    private readonly definitions?: DefinitionContext,
  ) {}

  async provideInlineCompletionItems(doc: vscode.TextDocument, pos: vscode.Position, ctx: vscode.InlineCompletionContext, token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    const called = Date.now();
    const settings = this.settings();
    const explicit = ctx.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    const why = whyNoRequest({
      enabled: this.controls.enabledFor(doc.languageId), snoozed: this.controls.snooze.active(), triggerMode: settings.triggerMode,
      explicit, lineSuffix: doc.lineAt(pos.line).text.slice(pos.character),
    });
    if (why) { if (this.log.logLevel === vscode.LogLevel.Trace) this.log.trace(`no request: ${why}`); return undefined; }
    const offset = doc.offsetAt(pos);
    const text = doc.getText();
    const before = text.slice(0, offset);
    const key = doc.uri.toString();
    // Asked explicitly (Alt+\, or cycling with Alt+] / Alt+[): the sidecar also decodes other suggestions.
    const cached = explicit ? undefined : this.cache.lookup(key, before);
    if (cached) return [new vscode.InlineCompletionItem(cached, new vscode.Range(pos, pos))];
    if (settings.engine === 'remote' && this.remote) return this.provideRemote(doc, pos, settings, text, offset, explicit, token);

    if (this.engine.state.kind === 'unloaded') await this.engine.ensureLoaded(settings);  // after "Unload Model"
    if (!this.engine.ready || !this.engine.model || token.isCancellationRequested) return undefined;
    // The language server's definitions are asked for during the debounce, and waited for briefly after it.
    const definitions = settings.contextDefinitions ? this.definitions?.prepare(doc, offset) : undefined;
    // Typing on: wait a fraction of the measured latency before asking (an explicit trigger asks at once).
    const wait = explicit ? 0 : this.debounce.delayMs();
    if (wait > 0 && await cancelledWithin(wait, token)) return undefined;
    if (definitions) await within(definitions, DEFINITIONS_WAIT_MS);
    if (token.isCancellationRequested) return undefined;

    const { parts, cursor } = this.promptAt(doc, pos, settings, text, offset);
    const limits = { multiline: settings.multiline, maxLines: settings.maxLines };
    try {
      const sent = Date.now();
      const r = await this.engine.complete({
        parts, maxTokens: settings.maxTokens, ...(settings.timeBudgetMs > 0 ? { timeBudgetMs: settings.timeBudgetMs } : {}),
        ...(settings.promptBudgetMs > 0 ? { promptBudgetMs: settings.promptBudgetMs } : {}), ...requestRules(cursor, limits),
        ...alternativesRequest(explicit, settings.alternatives),
      }, token);
      this.debounce.record(Date.now() - sent);
      if (token.isCancellationRequested) return undefined;
      const suggestion = postprocess(r.text, cursor, limits);
      if (this.log.logLevel === vscode.LogLevel.Trace) {
        this.log.trace(`completion ${JSON.stringify(r.text)} → ${JSON.stringify(suggestion)} (${r.stop}, ${r.stats.tokens} tokens, sidecar ${r.stats.totalMs.toFixed(0)} ms, waited ${wait} ms, provider ${called} → ${Date.now()})`);
      }
      // The greedy suggestion first, then the others (best first), each cleaned the same way, without repeats.
      const others = (r.alternatives ?? []).map((a) => postprocess(a.text, cursor, limits));
      const suggestions = [...new Set([suggestion, ...others].filter((x) => x))];
      if (suggestions.length === 0) return undefined;
      if (suggestion) this.cache.store(key, before, suggestion);
      if (this.served++ === 0) this.onServed.fire();
      return suggestions.map((x) => new vscode.InlineCompletionItem(x, new vscode.Range(pos, pos)));
    } catch (e) {
      const code = (e as { code?: number | string }).code;
      // Superseded/cancelled requests and a restarting engine are normal while typing.
      if (code !== -32800 && code !== 'SIDECAR_DIED') this.log.error(`completion failed: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** The remote engine's suggestion: same windows, limits, debounce, cache and postprocessing as the local path. */
  private async provideRemote(doc: vscode.TextDocument, pos: vscode.Position, settings: Settings, text: string, offset: number, explicit: boolean, token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    const remote = await this.remote!.client(settings);
    if (!remote || token.isCancellationRequested) return undefined;
    const definitions = settings.contextDefinitions ? this.definitions?.prepare(doc, offset) : undefined;
    const wait = explicit ? 0 : this.debounce.delayMs();
    if (wait > 0 && await cancelledWithin(wait, token)) return undefined;
    if (definitions) await within(definitions, DEFINITIONS_WAIT_MS);
    const { input, cursor } = this.windowsAt(doc, pos, settings, text, offset);
    const limits = { multiline: settings.multiline, maxLines: settings.maxLines };
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      const r = await remote.complete(remoteRequest(input, requestRules(cursor, limits), settings.maxTokens, settings.timeBudgetMs, abort.signal));
      if (!r || token.isCancellationRequested) return undefined;  // cancelled, superseded, or the server is in backoff
      this.debounce.record(r.latencyMs);
      const suggestion = postprocess(r.text, cursor, limits);
      if (this.log.logLevel === vscode.LogLevel.Trace) this.log.trace(`remote completion ${JSON.stringify(r.text)} → ${JSON.stringify(suggestion)} (${r.stop}, ${r.latencyMs.toFixed(0)} ms round trip)`);
      if (!suggestion) return undefined;
      this.cache.store(doc.uri.toString(), text.slice(0, offset), suggestion);
      if (this.served++ === 0) this.onServed.fire();
      return [new vscode.InlineCompletionItem(suggestion, new vscode.Range(pos, pos))];
    } catch (e) {
      this.log.debug(`remote completion failed: ${(e as Error).message}`);  // RemoteHost shows the one message
      return undefined;
    } finally {
      sub.dispose();
    }
  }

  /**
   * Evaluates the prompt at the cursor with one token, so the KV cache holds this file's context before the
   * user types (called when an editor gets focus; the first keystroke then re-evaluates only a few tokens).
   */
  prime(doc: vscode.TextDocument, pos: vscode.Position): void {
    const settings = this.settings();
    if (settings.engine === 'remote' || !this.controls.enabledFor(doc.languageId) || settings.triggerMode === 'manual' || !this.engine.ready || !this.engine.model) return;
    const never: vscode.CancellationToken = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    // With the definitions in (when the language server answers in time), so the primed prompt is the one sent.
    const definitions = settings.contextDefinitions ? this.definitions?.prepare(doc, doc.offsetAt(pos)) : undefined;
    void (definitions ? within(definitions, DEFINITIONS_WAIT_MS) : Promise.resolve()).then(() => {
      if (!this.engine.ready || !this.engine.model) return;
      const { parts } = this.promptAt(doc, pos, settings, doc.getText(), doc.offsetAt(pos));
      return this.engine.complete({ parts, maxTokens: 1, warmup: true }, never);
    }).catch(() => undefined);  // superseded by typing: fine
  }

  private promptAt(doc: vscode.TextDocument, pos: vscode.Position, settings: Settings, text: string, offset: number) {
    const { input, cursor } = this.windowsAt(doc, pos, settings, text, offset);
    const parts = promptParts(this.engine.model!.specials, input);  // callers checked that a model is loaded
    return { parts, cursor };
  }

  /** The prefix/suffix windows, recent-file chunks and cursor line: what a prompt is made of, locally or remotely. */
  private windowsAt(doc: vscode.TextDocument, pos: vscode.Position, settings: Settings, text: string, offset: number) {
    const before = text.slice(0, offset);
    const line = doc.lineAt(pos.line).text;
    const cursor: CursorContext = {
      linePrefix: line.slice(0, pos.character), lineSuffix: line.slice(pos.character),
      nextLines: pos.line + 1 < doc.lineCount ? doc.getText(new vscode.Range(pos.line + 1, 0, Math.min(doc.lineCount - 1, pos.line + 4), 0)).split('\n') : [],
    };
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
    const rel = folder ? path.relative(folder.uri.fsPath, doc.uri.fsPath) : path.basename(doc.uri.fsPath);
    const prefix = prefixWindow(before, settings.prefixChars), suffix = suffixWindow(text.slice(offset), settings.suffixChars);
    // One context budget: definitions take up to half once this file's language server gives any (a fixed
    // share, so the recent-file chunks before them, and their KV cache, stay put while the definitions change).
    const defsOn = settings.contextDefinitions && !!this.definitions?.servesDefinitions(doc.uri);
    const defBudget = defsOn ? definitionBudget(settings.contextFiles, settings.contextChunkChars) : 0;
    const share = shareContextBudget(settings.contextFiles, settings.contextChunkChars, defBudget);
    const visible: [number, number] = [doc.positionAt(offset - prefix.length).line, doc.positionAt(offset + suffix.length).line];
    const defs = defsOn ? selectDefinitionChunks(this.definitions!.peek(doc, offset), doc.uri.fsPath, visible, defBudget) : [];
    const input = {
      prefix, suffix,
      path: rel, repoName: folder?.name ?? 'workspace', lineComment: lineCommentFor(doc.languageId),
      // Recent files first, then definitions (most relevant last, nearest the cursor).
      chunks: [...this.recent.chunks(doc.uri.fsPath, share.recentFiles, share.recentChunkChars), ...defs]
        .map((c) => ({ ...c, path: folder ? path.relative(folder.uri.fsPath, c.path) : c.path })),
    };
    return { input, cursor };
  }
}

/** How long a completion waits for the language server's definitions after the debounce. */
const DEFINITIONS_WAIT_MS = 120;

/** Waits `ms`; true when VS Code cancelled the request meanwhile (the user typed on). */
function cancelledWithin(ms: number, token: vscode.CancellationToken): Promise<boolean> {
  return new Promise((resolve) => {
    if (token.isCancellationRequested) { resolve(true); return; }
    let sub: vscode.Disposable | undefined;
    const t = setTimeout(() => { sub?.dispose(); resolve(token.isCancellationRequested); }, ms);
    sub = token.onCancellationRequested(() => { clearTimeout(t); sub?.dispose(); resolve(true); });
  });
}
