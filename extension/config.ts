// The extension's settings (package.json `contributes.configuration`) read into one plain object.
import * as vscode from 'vscode';

export interface Settings {
  model: string;
  draftModel: string;
  eagleModel: string;
  topK: number;
  maxTokens: number;
  timeBudgetMs: number;
  contextSize: number;
  prefixChars: number;
  suffixChars: number;
  contextFiles: number;
  contextChunkChars: number;
  threads: number;
  enable: Record<string, boolean>;
  autoBuildVocabulary: boolean;
  modelFolders: string[];
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('frspec');
  return {
    model: c.get('model', ''),
    draftModel: c.get('draftModel', ''),
    eagleModel: c.get('eagleModel', ''),
    topK: c.get('topK', 32768),
    maxTokens: c.get('maxTokens', 48),
    timeBudgetMs: c.get('timeBudgetMs', 150),
    contextSize: c.get('contextSize', 4096),
    prefixChars: c.get('prefixChars', 4000),
    suffixChars: c.get('suffixChars', 1000),
    contextFiles: c.get('contextFiles', 3),
    contextChunkChars: c.get('contextChunkChars', 1200),
    threads: c.get('threads', 0),
    enable: c.get('enable', { '*': true }),
    autoBuildVocabulary: c.get('vocabulary.autoBuild', true),
    modelFolders: c.get('modelFolders', []),
  };
}

export function enabledFor(settings: Settings, languageId: string): boolean {
  return settings.enable[languageId] ?? settings.enable['*'] ?? true;
}
