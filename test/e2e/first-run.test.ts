// End to end, first start: the extension in code-server with no model configured and the per-language
// `frspec.enable` object of earlier versions in the user settings. The Get Started walkthrough opens by
// itself (no notification), the status bar says there is no model, the setting is migrated to a boolean with
// language overrides, and a reload does not open the walkthrough again. Run: npm run test:e2e.
import { strict as assert } from 'node:assert';
import type { Page } from 'playwright-core';
import { openWorkbench, QUIET_SETTINGS, readSettings, screenshots, statusItem, type Workbench } from './workbench';

describe('e2e: first start without a model (walkthrough, settings migration)', function () {
  this.timeout(600_000);
  let wb: Workbench | undefined;
  let page: Page;
  let screenshot: (name: string) => Promise<void>;
  const walkthrough = () => page.locator('.gettingStartedContainer', { hasText: 'Get Started with FR-Spec Complete' });

  before(async () => {
    wb = await openWorkbench({
      'frspec.enable': { '*': true, markdown: false, python: false },  // the object of earlier versions
      ...QUIET_SETTINGS,
    }, { 'sample.py': 'print("hello")\n' });
    page = wb.page;
    screenshot = screenshots(page, (name) => `first-run-${name}`);
  });

  after(async () => { await wb?.close(); });

  it('opens the Get Started walkthrough by itself, with no notification, and the status bar says "no model"', async () => {
    await walkthrough().waitFor({ timeout: 120_000 });
    await statusItem(page).filter({ hasText: 'no model' }).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(1000);
    await screenshot('walkthrough');
    assert.equal(await page.locator('.notification-toast', { hasText: /FR-Spec/ }).count(), 0, 'a notification besides the walkthrough');
  });

  it('migrates the per-language frspec.enable object to a boolean with language overrides', async () => {
    let s: Record<string, unknown> = {};
    for (let k = 0; k < 100; k++) {
      s = readSettings(wb!.server, 'User');
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
    await statusItem(page).filter({ hasText: 'no model' }).waitFor({ timeout: 60_000 });
    await page.waitForTimeout(3000);  // the walkthrough would have opened by now
    assert.equal(await walkthrough().count(), 0, 'the walkthrough opened again');
    await screenshot('after-reload');
  });
});
