// Whether suggestions are on for a language, and when the provider should ask the engine at all. Pure: the
// settings arrive as values (extension.ts reads them language-scoped from VS Code), so the rules are tested.

/**
 * `frspec.enable` as read for one language: a boolean (the setting is language-overridable: `"[python]":
 * {"frspec.enable": false}`), or the object of earlier versions (`{"*": true, "markdown": false}`) until
 * it is migrated. Anything else counts as on.
 */
export function resolveEnabled(value: unknown, languageId: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const v = o[languageId] ?? o['*'];
    return typeof v === 'boolean' ? v : true;
  }
  return true;
}

/** The earlier per-language object as the new form: a global value and one override per language. */
export function migrateLegacyEnable(value: unknown): { global?: boolean; languages: Record<string, boolean> } | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const languages: Record<string, boolean> = {};
  let global: boolean | undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'boolean') continue;
    if (k === '*') global = v;
    else if (/^[\w.+-]+$/.test(k)) languages[k] = v;  // a language id; anything else cannot be an override key
  }
  return { global, languages };
}

export type TriggerMode = 'automatic' | 'manual';

export interface GateInput {
  enabled: boolean;
  snoozed: boolean;
  triggerMode: TriggerMode;
  /** The user asked for a suggestion (Alt+\ or the trigger command), not a keystroke. */
  explicit: boolean;
  /** The current line after the cursor. */
  lineSuffix: string;
}

/** Why no request is sent, or undefined to send one. An explicit trigger overrides the snooze, the manual
 * mode and the rest-of-line rule, never a disabled language (disabled means off). */
export function whyNoRequest(g: GateInput): 'disabled' | 'snoozed' | 'manual' | 'rest-of-line' | undefined {
  if (!g.enabled) return 'disabled';
  if (g.explicit) return undefined;
  if (g.snoozed) return 'snoozed';
  if (g.triggerMode === 'manual') return 'manual';
  if (!restOfLineAllowsCompletion(g.lineSuffix)) return 'rest-of-line';
  return undefined;
}

/** A suggestion in the middle of a line only when what follows the cursor is closing brackets, quotes,
 * semicolons or commas (`foo(|)`, `"|";`): inserting before real code rarely gives what the user wants. */
export function restOfLineAllowsCompletion(lineSuffix: string): boolean {
  return /^[\s)\]}>'"`;,]*$/.test(lineSuffix);
}

/** The parts of VS Code's `inspect('frspec.enable')` for one language that decide its value. */
export interface EnableLayers {
  defaultValue?: unknown; globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown;
  defaultLanguageValue?: unknown; globalLanguageValue?: unknown; workspaceLanguageValue?: unknown; workspaceFolderLanguageValue?: unknown;
}

/**
 * The value for `languageId` with one language override left out ('global': the user's, 'workspace': the
 * workspace's), by VS Code's precedence: every language-specific layer (its default from
 * configurationDefaults included) above every plain one, and within each kind default < user < workspace < folder.
 */
export function enabledWithoutOverride(layers: EnableLayers, languageId: string, without: 'global' | 'workspace'): boolean {
  const order: unknown[] = [
    layers.workspaceFolderLanguageValue, without === 'workspace' ? undefined : layers.workspaceLanguageValue,
    without === 'global' ? undefined : layers.globalLanguageValue, layers.defaultLanguageValue,
    layers.workspaceFolderValue, layers.workspaceValue, layers.globalValue, layers.defaultValue,
  ];
  return resolveEnabled(order.find((v) => v !== undefined), languageId);
}
