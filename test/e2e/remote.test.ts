// End to end, remote engine: the extension in code-server with `frspec.engine: remote` against a
// `frspec serve --http` this test starts (demo model, API key). The key is entered through "FR-Spec: Set Remote
// API Key…" (SecretStorage). Typing shows ghost text served over HTTP, the status bar shows the round-trip
// time, and no local sidecar runs. With the server stopped, typing on gives ONE warning and the status bar says
// unreachable (no retry per keystroke). Run: npm run test:e2e (with vscode.test.ts).
import { strict as assert } from 'node:assert';
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { metric, request, type ServedHttp, startHttpServer } from '../../fixtures/http-server';
import { demoModel, repoRoot, requireShared } from '../helpers/shared';
import { type CodeServer, installCodeServer, startCodeServer } from './code-server';

const ARTIFACTS = process.env.FRSPEC_E2E_ARTIFACTS ?? path.join(repoRoot, '.cache', 'e2e-artifacts');
const KEY = 'e2e-remote-key';
const PY = 'import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n\n\n';
// Spots where the weak demo model writes something (as in vscode.test.ts).
const PY_TYPING = ['def add(a, b):\n    return a', 'if __name__ == ', 'def add(a, b):\n    return ', 'def main():\n    for i in range(', 'def main():\n    print('];

describe('e2e: the extension with a remote engine (frspec serve --http)', function () {
  this.timeout(600_000);
  let http: ServedHttp | undefined;
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  const screenshot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `remote-${name}.png`) });
  const statusItem = () => page.locator('.statusbar-item', { has: page.locator('a[aria-label^="FR-Spec Complete"]') }).first();

  before(async function () {
    requireShared(this);
    http = await startHttpServer(['--model', demoModel('demo-target')!, '--threads', '1', '--api-key', KEY]);
    const bin = installCodeServer(repoRoot);
    cp.execSync('npm run package:vsix', { cwd: repoRoot, stdio: 'pipe' });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await startCodeServer(bin, path.join(repoRoot, 'frspec-complete.vsix'), {
      'frspec.engine': 'remote', 'frspec.remote.endpoint': http.url, 'frspec.maxTokens': 16,
      'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none', 'workbench.tips.enabled': false,
      'editor.wordBasedSuggestions': 'off', 'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false, 'editor.inlineSuggest.enabled': true, 'editor.autoIndent': 'none',
      'editor.autoClosingBrackets': 'never', 'editor.autoClosingQuotes': 'never', 'editor.acceptSuggestionOnEnter': 'off',
      'telemetry.telemetryLevel': 'off', 'extensions.ignoreRecommendations': true, 'update.mode': 'none', 'files.autoSave': 'off',
    }, { 'sample.py': PY });
    browser = await chromium.launchPersistentContext(path.join(server.root, 'chromium'), {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(server.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    await statusItem().locator('.codicon-cloud').waitFor({ timeout: 120_000 });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    await http?.close();
    if (server && !process.env.FRSPEC_E2E_KEEP) fs.rmSync(server.root, { recursive: true, force: true });
  });

  async function command(title: string): Promise<void> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title.replace(/^FR-Spec: /, '') }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
  }

  async function openSample(): Promise<void> {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill('sample.py');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'sample.py' }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.tab.active', { hasText: 'sample.py' }).waitFor({ timeout: 10_000 });
    await page.locator('.monaco-editor textarea').first().focus();
  }

  /** Types at the end of the original file; the ghost text and last key → ghost ms, or undefined. */
  async function typeAndWaitForGhost(text: string): Promise<{ ghost: string; ms: number } | undefined> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(PY);
    await page.keyboard.press('Control+End');
    await page.evaluate(`document.addEventListener('keydown', () => { window.__lastKey = performance.now(); }, { capture: true })`);
    for (const ch of text) {
      if (ch === '\n') await page.keyboard.press('Enter');
      else await page.keyboard.type(ch);
      await page.waitForTimeout(60);
    }
    const ms = (await page.evaluate(`new Promise((resolve) => {
      const tick = () => {
        const ghosts = [...document.querySelectorAll('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text')];
        if (ghosts.some((g) => (g.textContent || '').trim())) resolve(performance.now() - window.__lastKey);
        else if (performance.now() - window.__lastKey > 4000) resolve(-1);
        else setTimeout(tick, 5);
      };
      tick();
    })`)) as number;
    if (ms < 0) return undefined;
    const ghost = (await page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').allInnerTexts()).join('\n');
    return { ghost, ms };
  }

  it('the key goes to SecretStorage, ghost text comes from the server, the status bar shows its round trip', async () => {
    await command('FR-Spec: Set Remote API Key…');
    const input = page.locator('.quick-input-widget input[type="password"]');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(KEY);
    await page.keyboard.press('Enter');
    await page.locator('.notification-toast', { hasText: 'remote API key stored' }).first().waitFor({ timeout: 10_000 });
    assert.ok(!fs.readFileSync(path.join(server!.userDataDir, 'User', 'settings.json'), 'utf8').includes(KEY), 'the key is not in settings.json');
    await openSample();
    let shown: { ghost: string; ms: number } | undefined;
    for (const t of PY_TYPING) {
      shown = await typeAndWaitForGhost(t);
      console.log(`      typed ${JSON.stringify(t.split('\n').pop())} → ${shown ? `ghost ${JSON.stringify(shown.ghost.slice(0, 60))} after ${shown.ms.toFixed(0)} ms` : 'no suggestion'}`);
      if (shown) break;
    }
    await screenshot('ghost');
    assert.ok(shown, 'ghost text from the remote engine');
    const label = await statusItem().locator('a').first().getAttribute('aria-label');
    assert.match(String(await statusItem().innerText()), /\d+ ms/, `status bar: ${label}`);
    const metrics = (await request(http!.url, 'GET', '/metrics', undefined, { Authorization: `Bearer ${KEY}` })).text;
    const served = metric(metrics, 'frspec_http_requests_total{route="/infill",status="200"}') ?? 0;
    console.log(`      status bar ${JSON.stringify(await statusItem().innerText())}; server answered ${served} /infill requests`);
    assert.ok(served >= 1);
    const sidecars = cp.execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(server!.root) && l.includes('dist/sidecar.js'));
    assert.deepEqual(sidecars, [], 'no local engine in remote mode');
  });

  it('a server that goes away gives one warning and an "unreachable" status, not a retry per keystroke', async () => {
    await http!.close();
    await typeAndWaitForGhost(PY_TYPING[0]);
    await page.locator('.notification-toast', { hasText: 'cannot reach' }).first().waitFor({ timeout: 10_000 });
    await statusItem().filter({ hasText: 'unreachable' }).waitFor({ timeout: 10_000 });
    await screenshot('unreachable');
    for (const t of PY_TYPING.slice(1, 4)) await typeAndWaitForGhost(t);  // typing on, within the backoff and after it
    // Every notification of the session, toasts that faded included: the notification center's list.
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').fill('>Notifications: Show Notifications');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Show Notifications' }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.notifications-center').waitFor({ timeout: 10_000 });
    const warnings = await page.locator('.notifications-center .monaco-list-row', { hasText: 'cannot reach' }).count();
    console.log(`      status bar ${JSON.stringify(await statusItem().innerText())}; ${warnings} "cannot reach" notification(s) after 4 typing bursts`);
    assert.equal(warnings, 1);
  });
});
