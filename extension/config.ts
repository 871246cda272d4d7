// The extension's settings (package.json `contributes.configuration`) read into one plain object.
import * as vscode from 'vscode';
import { boundContextSize, boundThreads } from './machine-limits';
import type { TriggerMode } from './control/enablement';
import type { MultilineMode } from './postprocess/multiline';
import { alternativesCount } from './control/alternatives';

export interface Settings {
  model: string;
  draftModel: string;
  eagleModel: string;
  topK: number;
  maxTokens: number;
  timeBudgetMs: number;
  promptBudgetMs: number;
  contextSize: number;
  prefixChars: number;
  suffixChars: number;
  contextFiles: number;
  contextChunkChars: number;
  /** Definitions of the identifiers before the cursor, from the language server, as prompt context. */
  contextDefinitions: boolean;
  threads: number;
  /** automatic: as the user types; manual: only on Alt+\\ (editor.action.inlineSuggest.trigger). */
  triggerMode: TriggerMode;
  multiline: MultilineMode;
  /** Most lines of one suggestion (0: no limit). */
  maxLines: number;
  /** Other suggestions beside the greedy one when asked explicitly (Alt+\\, Alt+] / Alt+[), 0…4. */
  alternatives: number;
  autoBuildVocabulary: boolean;
  modelFolders: string[];
  /** local: the engine in a sidecar process on this machine; remote: a server (extension/remote/). */
  engine: 'local' | 'remote';
  remoteEndpoint: string;
  remoteDialect: 'auto' | 'llama.cpp' | 'openai';
  /** The `model` field of OpenAI-dialect requests. */
  remoteModel: string;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('frspec');
  return {
    model: c.get('model', ''),
    draftModel: c.get('draftModel', ''),
    eagleModel: c.get('eagleModel', ''),
    topK: c.get('topK', 8192),
    maxTokens: c.get('maxTokens', 48),
    timeBudgetMs: c.get('timeBudgetMs', 150),
    promptBudgetMs: c.get('promptBudgetMs', 50),
    // Bounded by this machine (cores, memory), whatever a settings file asks for.
    contextSize: boundContextSize(c.get('contextSize', 4096)),
    prefixChars: c.get('prefixChars', 4000),
    suffixChars: c.get('suffixChars', 1000),
    contextFiles: c.get('contextFiles', 3),
    contextChunkChars: c.get('contextChunkChars', 1200),
    contextDefinitions: c.get('contextDefinitions', true),
    threads: boundThreads(c.get('threads', 0)),
    triggerMode: c.get<TriggerMode>('triggerMode', 'automatic') === 'manual' ? 'manual' : 'automatic',
    multiline: oneOf(c.get('multiline', 'auto'), ['auto', 'always', 'never'] as const, 'auto'),
    maxLines: c.get('maxLines', 10),
    alternatives: alternativesCount(c.get('alternatives.count')),
    autoBuildVocabulary: c.get('vocabulary.autoBuild', true),
    modelFolders: c.get('modelFolders', []),
    engine: oneOf(c.get('engine', 'local'), ['local', 'remote'] as const, 'local'),
    remoteEndpoint: c.get('remote.endpoint', 'http://127.0.0.1:8012'),
    remoteDialect: oneOf(c.get('remote.dialect', 'auto'), ['auto', 'llama.cpp', 'openai'] as const, 'auto'),
    remoteModel: c.get('remote.model', ''),
  };
}

/** `frspec.enable` is read per language by control/user-controls.ts (it is language-overridable). */
const oneOf = <T extends string>(v: unknown, allowed: readonly T[], fallback: T): T => (allowed.includes(v as T) ? (v as T) : fallback);
