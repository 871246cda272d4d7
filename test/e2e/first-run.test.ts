// End to end, first start: the extension in code-server with no model configured and the per-language
// `frspec.enable` object of earlier versions in the user settings. The Get Started walkthrough opens by
// itself (no notification), the status bar says there is no model, the setting is migrated to a boolean with
// language overrides, and a reload does not open the walkthrough again. Run: npm run test:e2e.
import { strict as assert } from 'node:assert';
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/shared';
import { type CodeServer, installCodeServer, startCodeServer } from './code-server';

const ARTIFACTS = process.env.FRSPEC_E2E_ARTIFACTS ?? path.join(repoRoot, '.cache', 'e2e-artifacts');

describe('e2e: first start without a model (walkthrough, settings migration)', function () {
  this.timeout(600_000);
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  const screenshot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `first-run-${name}.png`) });
  const statusItem = () => page.locator('.statusbar-item', { has: page.locator('a[aria-label^="FR-Spec Complete"]') }).first();
  const walkthrough = () => page.locator('.gettingStartedContainer', { hasText: 'Get Started with FR-Spec Complete' });

  before(async () => {
    const bin = installCodeServer(repoRoot);
    cp.execSync('npm run package:vsix', { cwd: repoRoot, stdio: 'pipe' });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await startCodeServer(bin, path.join(repoRoot, 'frspec-complete.vsix'), {
      'frspec.enable': { '*': true, markdown: false, python: false },  // the object of earlier versions
      'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none', 'workbench.tips.enabled': false,
      'telemetry.telemetryLevel': 'off', 'extensions.ignoreRecommendations': true, 'update.mode': 'none',
    }, { 'sample.py': 'print("hello")\n' });
    browser = await chromium.launchPersistentContext(path.join(server.root, 'chromium'), {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(server.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (server && !process.env.FRSPEC_E2E_KEEP) fs.rmSync(server.root, { recursive: true, force: true });
  });

  it('opens the Get Started walkthrough by itself, with no notification, and the status bar says "no model"', async () => {
    await walkthrough().waitFor({ timeout: 120_000 });
    await statusItem().filter({ hasText: 'no model' }).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(1000);
    await screenshot('walkthrough');
    assert.equal(await page.locator('.notification-toast', { hasText: /FR-Spec/ }).count(), 0, 'a notification besides the walkthrough');
  });

  it('migrates the per-language frspec.enable object to a boolean with language overrides', async () => {
    const settingsFile = path.join(server!.userDataDir, 'User', 'settings.json');
    let s: Record<string, unknown> = {};
    for (let k = 0; k < 100; k++) {
      s = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
      if (typeof s['frspec.enable'] !== 'object') break;
      await page.waitForTimeout(100);
    }
    console.log(`      migrated: ${JSON.stringify({ enable: s['frspec.enable'], markdown: s['[markdown]'], python: s['[python]'] })}`);
    assert.equal(s['frspec.enable'], true);
    assert.deepEqual(s['[markdown]'], { 'frspec.enable': false });
    assert.deepEqual(s['[python]'], { 'frspec.enable': false });
  });

  it('a reload does not open the walkthrough again', async () => {
    // Close it, reload the window: the extension activates again, still without a model.
    await page.keyboard.press('Control+K');
    await page.keyboard.press('W');  // close all editors
    await walkthrough().waitFor({ state: 'detached', timeout: 10_000 });
    await page.reload();
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    await statusItem().filter({ hasText: 'no model' }).waitFor({ timeout: 60_000 });
    await page.waitForTimeout(3000);  // the walkthrough would have opened by now
    assert.equal(await walkthrough().count(), 0, 'the walkthrough opened again');
    await screenshot('after-reload');
  });
});
