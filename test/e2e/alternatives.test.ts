// End to end, several suggestions: in code-server with the demo model and its EAGLE head (as shipped;
// FRSPEC_E2E_PLAIN=1: plain decoding), ghost text shows while
// typing (the greedy suggestion); Alt+] (editor.action.inlineSuggest.showNext) asks the provider explicitly,
// which returns the greedy suggestion first and the target's next-best first tokens continued greedily after
// it, and shows the next one — a different text; Alt+[ goes back to the first. Needs ../shared (the demo
// model). Screenshots: .cache/e2e-artifacts/alternatives-*.png. Run:
// npx mocha --no-config -r tsx/cjs --exit --timeout 300000 test/e2e/alternatives.test.ts
import { strict as assert } from 'node:assert';
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { demoModel, repoRoot, requireShared } from '../helpers/shared';
import { type CodeServer, installCodeServer, startCodeServer } from './code-server';

const ARTIFACTS = process.env.FRSPEC_E2E_ARTIFACTS ?? path.join(repoRoot, '.cache', 'e2e-artifacts');
const PY = 'import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n\n\n';
// Spots where the demo model writes something (it often ends at once in fill-in-the-middle).
const TYPING = ['def add(a, b):\n    return a', 'def main():\n    for i in range(', 'def main():\n    print(', 'if __name__ == '];
const GHOST = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text';
const norm = (s: string) => s.replace(/\u00a0/g, ' ');

describe('e2e: several suggestions, cycled with Alt+] / Alt+[', function () {
  this.timeout(600_000);
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  const screenshot = async (name: string) => {
    const file = path.join(ARTIFACTS, `alternatives-${name}.png`);
    await page.screenshot({ path: file });
    console.log(`      screenshot: ${path.relative(repoRoot, file)}`);
  };
  const ghost = async () => norm((await page.locator(GHOST).allInnerTexts()).join('\n'));
  /** Waits until the ghost text is non-empty and `ok` says yes (polling); '' when it never is. */
  const waitGhost = async (ok: (g: string) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const g = await ghost();
      if (g.trim() && ok(g)) { await page.waitForTimeout(300); return ghost(); }  // lines below render a frame later
      await page.waitForTimeout(50);
    }
    return '';
  };

  before(async function () {
    requireShared(this);
    const bin = installCodeServer(repoRoot);
    cp.execSync('npm run package:vsix', { cwd: repoRoot, stdio: 'pipe' });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await startCodeServer(bin, path.join(repoRoot, 'frspec-complete.vsix'), {
      'frspec.model': demoModel('demo-target')!, ...(process.env.FRSPEC_E2E_PLAIN ? {} : { 'frspec.eagleModel': demoModel('demo-eagle')! }),
      'frspec.topK': 8192, 'frspec.threads': 2, 'frspec.contextSize': 2048, 'frspec.maxTokens': 16,
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
    const status = page.locator('.statusbar-item', { has: page.locator('a[aria-label^="FR-Spec Complete"]') }).first();
    await status.locator('.codicon-zap').waitFor({ timeout: 120_000 });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (server && !process.env.FRSPEC_E2E_KEEP) fs.rmSync(server.root, { recursive: true, force: true });
  });

  it('Alt+] shows another suggestion than the first (the greedy one), Alt+[ goes back', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      await page.keyboard.press('Control+P');
      try {
        await page.locator('.quick-input-widget input').fill('sample.py');
        await page.locator('.quick-input-list .monaco-list-row', { hasText: 'sample.py' }).first().waitFor({ timeout: 10_000 });
        await page.keyboard.press('Enter');
        await page.locator('.tab.active', { hasText: 'sample.py' }).waitFor({ timeout: 10_000 });
        break;
      } catch { await page.keyboard.press('Escape'); }
    }
    await page.locator('.monaco-editor textarea').first().focus();
    await page.waitForTimeout(1500);
    let shown = false;
    for (const t of TYPING) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+A');
      await page.keyboard.insertText(PY);
      await page.keyboard.press('Control+End');
      for (const ch of t) {
        if (ch === '\n') await page.keyboard.press('Enter');
        else await page.keyboard.type(ch);
        await page.waitForTimeout(60);
      }
      const first = await waitGhost(() => true, 5000);
      console.log(`      typed ${JSON.stringify(t.split('\n').pop())} → ${first ? `ghost ${JSON.stringify(first)}` : 'no suggestion'}`);
      if (!first) continue;
      await screenshot('1-first');
      await page.keyboard.press('Alt+BracketRight');
      const second = await waitGhost((g) => g !== first, 8000);
      console.log(`      Alt+] → ${second ? `ghost ${JSON.stringify(second)}` : 'the same suggestion'}`);
      if (!second) { await screenshot(`no-other-${TYPING.indexOf(t)}`); continue; }
      await screenshot('2-next');
      assert.notEqual(second, first);
      await page.keyboard.press('Alt+BracketLeft');
      const back = await waitGhost((g) => g === first, 5000);
      await screenshot('3-previous');
      assert.equal(back, first, 'Alt+[ shows the first suggestion again');
      shown = true;
      break;
    }
    assert.ok(shown, 'Alt+] never showed another suggestion');
  });
});
