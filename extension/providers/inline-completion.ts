// The completion path: keystroke → typed-along cache → prefix/suffix windows and recent-file chunks → FIM
// prompt by model family → one sidecar request (cancelled with VS Code's token) → cleaned suggestion.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { TypedAlongCache } from '../cache/typed-along';
import { enabledFor, type Settings } from '../config';
import { prefixWindow, suffixWindow } from '../context/windows';
import type { RecentFiles } from '../context/recent-files';
import type { EngineHost } from '../engine/engine-host';
import { postprocess, requestRules, type CursorContext } from '../postprocess/multiline';
import { buildFimPrompt, buildPlainPrompt, fimCapabilities, lineCommentFor } from '../prompt/templates';
import type { PromptPart } from '../../native/sidecar/protocol';

/** FRSPEC_TRACE=1 in the editor's environment logs every completion to the output channel. */
const TRACE = !!process.env.FRSPEC_TRACE;

export class FrSpecInlineCompletionProvider implements vscode.InlineCompletionItemProvider {
  readonly cache = new TypedAlongCache();
  /** Shown suggestions: key moments for the e2e test's latency figures, in the output channel. */
  served = 0;

  constructor(
    private readonly engine: EngineHost,
    private readonly recent: RecentFiles,
    private readonly settings: () => Settings,
    private readonly log: vscode.OutputChannel,
  ) {}

  async provideInlineCompletionItems(doc: vscode.TextDocument, pos: vscode.Position, _ctx: vscode.InlineCompletionContext, token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    const called = Date.now();
    const settings = this.settings();
    if (!enabledFor(settings, doc.languageId) || !this.engine.ready || !this.engine.model) return undefined;
    const offset = doc.offsetAt(pos);
    const text = doc.getText();
    const before = text.slice(0, offset);
    const key = doc.uri.toString();
    const cached = this.cache.lookup(key, before);
    if (cached) return [new vscode.InlineCompletionItem(cached, new vscode.Range(pos, pos))];

    const { parts, cursor } = this.promptAt(doc, pos, settings, text, offset);
    try {
      const r = await this.engine.complete({
        parts, maxTokens: settings.maxTokens, ...(settings.timeBudgetMs > 0 ? { timeBudgetMs: settings.timeBudgetMs } : {}), ...requestRules(cursor),
      }, token);
      if (token.isCancellationRequested) return undefined;
      const suggestion = postprocess(r.text, cursor);
      if (TRACE) this.log.appendLine(`completion ${JSON.stringify(r.text)} → ${JSON.stringify(suggestion)} (${r.stop}, ${r.stats.tokens} tokens, sidecar ${r.stats.totalMs.toFixed(0)} ms, provider ${called} → ${Date.now()})`);
      if (!suggestion) return undefined;
      this.cache.store(key, before, suggestion);
      this.served++;
      return [new vscode.InlineCompletionItem(suggestion, new vscode.Range(pos, pos))];
    } catch (e) {
      const code = (e as { code?: number | string }).code;
      // Superseded/cancelled requests and a restarting engine are normal while typing.
      if (code !== -32800 && code !== 'SIDECAR_DIED') this.log.appendLine(`completion failed: ${(e as Error).message}`);
      return undefined;
    }
  }

  /**
   * Evaluates the prompt at the cursor with one token, so the KV cache holds this file's context before the
   * user types (called when an editor gets focus; the first keystroke then re-evaluates only a few tokens).
   */
  prime(doc: vscode.TextDocument, pos: vscode.Position): void {
    const settings = this.settings();
    if (!enabledFor(settings, doc.languageId) || !this.engine.ready || !this.engine.model) return;
    const { parts } = this.promptAt(doc, pos, settings, doc.getText(), doc.offsetAt(pos));
    const never: vscode.CancellationToken = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    void this.engine.complete({ parts, maxTokens: 1, warmup: true }, never).catch(() => undefined);  // superseded by typing: fine
  }

  private promptAt(doc: vscode.TextDocument, pos: vscode.Position, settings: Settings, text: string, offset: number) {
    const before = text.slice(0, offset);
    const line = doc.lineAt(pos.line).text;
    const cursor: CursorContext = {
      linePrefix: line.slice(0, pos.character), lineSuffix: line.slice(pos.character),
      nextLines: pos.line + 1 < doc.lineCount ? doc.getText(new vscode.Range(pos.line + 1, 0, Math.min(doc.lineCount - 1, pos.line + 4), 0)).split('\n') : [],
    };
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
    const rel = folder ? path.relative(folder.uri.fsPath, doc.uri.fsPath) : path.basename(doc.uri.fsPath);
    const input = {
      prefix: prefixWindow(before, settings.prefixChars), suffix: suffixWindow(text.slice(offset), settings.suffixChars),
      path: rel, repoName: folder?.name ?? 'workspace', lineComment: lineCommentFor(doc.languageId),
      chunks: this.recent.chunks(doc.uri.fsPath, settings.contextFiles, settings.contextChunkChars).map((c) => ({ ...c, path: folder ? path.relative(folder.uri.fsPath, c.path) : c.path })),
    };
    const caps = fimCapabilities(this.engine.model!.specials);  // callers checked that a model is loaded
    const parts: PromptPart[] = caps ? buildFimPrompt(caps, input) : buildPlainPrompt(input);
    return { parts, cursor };
  }
}
