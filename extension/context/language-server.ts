// The VS Code side of definition context (the one file in context/ that imports vscode): asks the language
// server where the identifiers before the cursor are defined (vscode.executeDefinitionProvider, as Tabby does)
// and reads those lines. Answers are cached by document and identifier names, so typing on a line asks once;
// the provider waits for a new answer only briefly (a slow server costs one completion its definitions, not
// latency), and the answer serves the next keystroke.
import * as vscode from 'vscode';
import { type DefinitionSnippet, definitionText, identifiersBeforeCursor } from './definitions';

const CACHE_ENTRIES = 64;

export class DefinitionContext {
  private readonly cache = new Map<string, DefinitionSnippet[]>();
  private readonly pending = new Map<string, Promise<DefinitionSnippet[]>>();
  /** Documents whose language server has answered with a definition at least once. */
  private readonly served = new Set<string>();

  constructor(private readonly log: vscode.LogOutputChannel) {}

  private keyAt(doc: vscode.TextDocument, offset: number): { key: string; ids: ReturnType<typeof identifiersBeforeCursor> } {
    const ids = identifiersBeforeCursor(doc.getText(), offset);
    return { key: `${doc.uri.toString()}|${ids.map((i) => i.name).join(',')}`, ids };
  }

  /** Whether this document's language server gives definitions (until then, recent files keep the whole budget). */
  servesDefinitions(uri: vscode.Uri): boolean {
    return this.served.has(uri.toString());
  }

  /** The cached definitions for the identifiers before the cursor ([] when not asked yet). */
  peek(doc: vscode.TextDocument, offset: number): DefinitionSnippet[] {
    return this.cache.get(this.keyAt(doc, offset).key) ?? [];
  }

  /** Asks the language server (once per document and identifier set); resolves when the answer is cached. */
  prepare(doc: vscode.TextDocument, offset: number): Promise<void> {
    const { key, ids } = this.keyAt(doc, offset);
    if (ids.length === 0 || this.cache.has(key)) return Promise.resolve();
    let p = this.pending.get(key);
    if (!p) {
      const started = Date.now();
      p = this.lookup(doc, ids).then((defs) => {
        this.cache.set(key, defs);
        if (defs.length) this.served.add(doc.uri.toString());
        while (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
        if (this.log.logLevel === vscode.LogLevel.Trace) this.log.trace(`definitions of ${ids.map((i) => i.name).join(', ')}: ${defs.map((d) => `${d.name} at ${d.path}:${d.line + 1}`).join('; ') || 'none'} (${Date.now() - started} ms)`);
        return defs;
      }).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p.then(() => undefined);
  }

  private async lookup(doc: vscode.TextDocument, ids: ReturnType<typeof identifiersBeforeCursor>): Promise<DefinitionSnippet[]> {
    const answers = await Promise.all(ids.map(async (id) => {
      try {
        const locs = await vscode.commands.executeCommand<Array<vscode.Location | vscode.LocationLink>>('vscode.executeDefinitionProvider', doc.uri, doc.positionAt(id.offset));
        const first = locs?.[0];
        if (!first) return undefined;
        const uri = 'targetUri' in first ? first.targetUri : first.uri;
        const range = 'targetUri' in first ? first.targetRange : first.range;
        // Declarations bundled with the editor or an extension (TypeScript's lib.dom.d.ts, typeshed stubs): the
        // standard library, which the model knows; not worth the budget nor reading a megabyte file.
        if (bundledWithTools(uri)) return undefined;
        const target = uri.toString() === doc.uri.toString() ? doc : await vscode.workspace.openTextDocument(uri);
        // A LocationLink's targetRange spans the whole definition; a Location often only its name: take 15 lines.
        const text = definitionText(target.getText(), range.start.line, 'targetUri' in first ? range.end.line : range.start.line + 14);
        return { name: id.name, path: uri.fsPath, line: range.start.line, text } satisfies DefinitionSnippet;
      } catch (e) {
        this.log.debug(`definition of ${id.name}: ${(e as Error).message}`);
        return undefined;
      }
    }));
    return answers.filter((a): a is DefinitionSnippet => !!a);
  }
}

function bundledWithTools(uri: vscode.Uri): boolean {
  if (uri.scheme !== 'file') return uri.scheme !== 'untitled';
  const roots = [vscode.env.appRoot, ...vscode.extensions.all.map((e) => e.extensionPath)].filter(Boolean);
  return roots.some((r) => uri.fsPath.startsWith(r + '/') || uri.fsPath.startsWith(r + '\\'));
}

/** Resolves when `p` settles or after `ms`, whichever is first. */
export function within(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(() => { clearTimeout(t); resolve(); }, () => { clearTimeout(t); resolve(); });
  });
}
