// What every e2e file needs to have the extension in front of it, and the moves it makes there: pack the VSIX,
// start a fresh code-server with settings and workspace files (code-server.ts), open it in Debian's headless
// Chromium; then the status bar item, quick open, the command palette, and typing until ghost text shows.
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/shared';
import { type CodeServer, installCodeServer, startCodeServer } from './code-server';

/** Where the screenshots go. */
export const ARTIFACTS = process.env.FRSPEC_E2E_ARTIFACTS ?? path.join(repoRoot, '.cache', 'e2e-artifacts');

/** Settings that keep VS Code's own prompts, tips and network calls out of the way. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none', 'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off', 'extensions.ignoreRecommendations': true, 'update.mode': 'none',
};

/** Settings for the tests that type: no word suggestions, auto-closing or auto-indent between the keys and our ghost text. */
export const TYPING_SETTINGS: Record<string, unknown> = {
  ...QUIET_SETTINGS,
  'editor.wordBasedSuggestions': 'off', 'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'editor.suggestOnTriggerCharacters': false, 'editor.inlineSuggest.enabled': true, 'editor.autoIndent': 'none',
  'editor.autoClosingBrackets': 'never', 'editor.autoClosingQuotes': 'never', 'editor.acceptSuggestionOnEnter': 'off',
  'files.autoSave': 'off',
};

/** Inline suggestions as VS Code 1.100 renders them (the inline part and the lines below it). */
export const GHOST = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text';
/** The editor renders spaces as non-breaking spaces. */
export const norm = (s: string) => s.replace(/\u00a0/g, ' ');

export interface Workbench {
  server: CodeServer;
  browser: BrowserContext;
  page: Page;
  /** Closes the browser, stops code-server (and with it our sidecar) and removes its folders unless FRSPEC_E2E_KEEP is set. */
  close(): Promise<void>;
}

/** Packs the VSIX, installs it into a fresh code-server with these user settings and workspace files, and opens the workbench. */
export async function openWorkbench(settings: Record<string, unknown>, files: Record<string, string>): Promise<Workbench> {
  const bin = installCodeServer(repoRoot);
  cp.execSync('npm run package:vsix', { cwd: repoRoot, stdio: 'pipe' });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startCodeServer(bin, path.join(repoRoot, 'frspec-complete.vsix'), settings, files);
  let browser: BrowserContext | undefined;
  const close = async () => {
    await browser?.close().catch(() => undefined);
    await server.stop();
    if (!process.env.FRSPEC_E2E_KEEP) fs.rmSync(server.root, { recursive: true, force: true });
  };
  try {
    browser = await chromium.launchPersistentContext(path.join(server.root, 'chromium'), {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(server.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    return { server, browser, page, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Screenshots into ARTIFACTS under fileName(name).png, each path printed. */
export function screenshots(page: Page, fileName: (name: string) => string): (name: string) => Promise<void> {
  return async (name) => {
    const file = path.join(ARTIFACTS, `${fileName(name)}.png`);
    await page.screenshot({ path: file });
    console.log(`      screenshot: ${path.relative(repoRoot, file)}`);
  };
}

/** Our status bar item, whatever it shows (its accessible label always starts with the product's name). */
export const statusItem = (page: Page) => page.locator('.statusbar-item', { has: page.locator('a[aria-label^="FR-Spec Complete"]') }).first();

/** The settings.json of one scope: User, or Machine (code-server's remote window keeps machine-scoped settings there). */
export function readSettings(server: CodeServer, scope: 'User' | 'Machine'): Record<string, any> {
  try { return JSON.parse(fs.readFileSync(path.join(server.userDataDir, scope, 'settings.json'), 'utf8')); } catch { return {}; }
}

/** The `ps` lines (pid, command line) of this code-server's sidecar processes: their command line names its folder. */
export function sidecars(server: CodeServer): string[] {
  return cp.execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(server.root) && l.includes('dist/sidecar.js'));
}

/** Opens a workspace file with quick open (Ctrl+P; retried: the workbench can take the focus away) and focuses its editor. */
export async function quickOpen(page: Page, name: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    try {
      await input.waitFor({ timeout: 5000 });
      await input.fill(name);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press('Enter');
      await page.locator('.tab.active', { hasText: name }).waitFor({ timeout: 10_000 });
      await page.locator('.monaco-editor textarea').first().focus();
      return;
    } catch { await page.keyboard.press('Escape'); }
  }
  await page.screenshot({ path: path.join(ARTIFACTS, `quick-open-failed-${name}.png`) });
  throw new Error(`could not open ${name} with quick open`);
}

/** Runs a command from the command palette (F1) by its title, e.g. 'FR-Spec: Select Model…' (retried as quickOpen). */
export async function runCommand(page: Page, title: string): Promise<void> {
  const label = title.replace(/^[^:]+: /, '');  // the row may render the category apart from the label
  for (let attempt = 0; attempt < 5; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    try {
      await input.waitFor({ timeout: 5000 });
      await input.fill(`>${title}`);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press('Enter');
      return;
    } catch { await page.keyboard.press('Escape'); }
  }
  throw new Error(`could not run ${title} from the command palette`);
}

export interface Ghost {
  ghost: string;
  /** Last keystroke → visible ghost text, in ms. */
  ms: number;
  /** With a trigger: whether a suggestion showed by itself in the pause before it. */
  before?: boolean;
}

/**
 * Puts the editor back to `original` in one edit, types `text` at its end key by key (60 ms apart: a fast typist)
 * and waits up to `waitMs` after the last key for ghost text. With `trigger`, a pause of `pauseMs` first (in which
 * automatic suggestions would have shown), then that key (Alt+\). Undefined when no ghost text showed.
 */
export async function typeAndWaitForGhost(page: Page, original: string, text: string, trigger?: { key: string; pauseMs: number }, waitMs = 4000): Promise<Ghost | undefined> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(original);
  await page.keyboard.press('Control+End');
  // Browser-side code as strings: this project's TypeScript has no DOM types.
  await page.evaluate(`document.addEventListener('keydown', () => { window.__lastKey = performance.now(); }, { capture: true })`);
  for (const ch of text) {
    if (ch === '\n') await page.keyboard.press('Enter');
    else await page.keyboard.type(ch);
    await page.waitForTimeout(60);
  }
  let before: boolean | undefined;
  if (trigger) {
    await page.waitForTimeout(trigger.pauseMs);
    before = (await page.locator(GHOST).count()) > 0;
    await page.keyboard.press(trigger.key);
  }
  const ms = (await page.evaluate(`new Promise((resolve) => {
    const tick = () => {
      const ghosts = [...document.querySelectorAll(${JSON.stringify(GHOST)})];
      if (ghosts.some((g) => (g.textContent || '').trim())) resolve(performance.now() - window.__lastKey);
      else if (performance.now() - window.__lastKey > ${waitMs}) resolve(-1);
      else setTimeout(tick, 5);
    };
    tick();
  })`)) as number;
  if (ms < 0) return undefined;
  await page.waitForTimeout(300);  // the inline part and the lines below render in separate frames
  const ghost = norm((await page.locator(GHOST).allInnerTexts()).join('\n'));
  return { ghost, ms, before };
}
