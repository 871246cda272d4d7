// End to end, remote engine: the extension in code-server with `frspec.engine: remote` against a
// `frspec serve --http` this test starts (demo model, API key). The key is entered through "FR-Spec: Set Remote
// API Key…" (SecretStorage). Typing shows ghost text served over HTTP, the status bar shows the round-trip
// time, and no local sidecar runs. With the server stopped, typing on gives ONE warning and the status bar says
// unreachable (no retry per keystroke). Run: npm run test:e2e (with vscode.test.ts).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { metric, request, type ServedHttp, startHttpServer } from '../../fixtures/http-server';
import { demoModel, requireShared } from '../helpers/shared';
import {
  openWorkbench, quickOpen, runCommand, screenshots, sidecars, statusItem, typeAndWaitForGhost, TYPING_SETTINGS, type Workbench,
} from './workbench';

const KEY = 'e2e-remote-key';
const PY = 'import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n\n\n';
// Spots where the weak demo model writes something (as in vscode.test.ts).
const PY_TYPING = ['def add(a, b):\n    return a', 'if __name__ == ', 'def add(a, b):\n    return ', 'def main():\n    for i in range(', 'def main():\n    print('];

describe('e2e: the extension with a remote engine (frspec serve --http)', function () {
  this.timeout(600_000);
  let http: ServedHttp | undefined;
  let wb: Workbench | undefined;
  let page: Page;
  let screenshot: (name: string) => Promise<void>;
  const status = () => statusItem(page);

  before(async function () {
    requireShared(this);
    http = await startHttpServer(['--model', demoModel('demo-target')!, '--threads', '1', '--api-key', KEY]);
    wb = await openWorkbench({
      ...TYPING_SETTINGS, 'frspec.engine': 'remote', 'frspec.remote.endpoint': http.url, 'frspec.maxTokens': 16,
    }, { 'sample.py': PY });
    page = wb.page;
    screenshot = screenshots(page, (name) => `remote-${name}`);
    await status().locator('.codicon-cloud').waitFor({ timeout: 120_000 });
  });

  after(async () => {
    await wb?.close();
    await http?.close();
  });

  it('the key goes to SecretStorage, ghost text comes from the server, the status bar shows its round trip', async () => {
    await runCommand(page, 'FR-Spec: Set Remote API Key…');
    const input = page.locator('.quick-input-widget input[type="password"]');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(KEY);
    await page.keyboard.press('Enter');
    await page.locator('.notification-toast', { hasText: 'remote API key stored' }).first().waitFor({ timeout: 10_000 });
    assert.ok(!fs.readFileSync(path.join(wb!.server.userDataDir, 'User', 'settings.json'), 'utf8').includes(KEY), 'the key is not in settings.json');
    await quickOpen(page, 'sample.py');
    let shown: { ghost: string; ms: number } | undefined;
    for (const t of PY_TYPING) {
      shown = await typeAndWaitForGhost(page, PY, t);
      console.log(`      typed ${JSON.stringify(t.split('\n').pop())} → ${shown ? `ghost ${JSON.stringify(shown.ghost.slice(0, 60))} after ${shown.ms.toFixed(0)} ms` : 'no suggestion'}`);
      if (shown) break;
    }
    await screenshot('ghost');
    assert.ok(shown, 'ghost text from the remote engine');
    const label = await status().locator('a').first().getAttribute('aria-label');
    assert.match(String(await status().innerText()), /\d+ ms/, `status bar: ${label}`);
    const metrics = (await request(http!.url, 'GET', '/metrics', undefined, { Authorization: `Bearer ${KEY}` })).text;
    const served = metric(metrics, 'frspec_http_requests_total{route="/infill",status="200"}') ?? 0;
    console.log(`      status bar ${JSON.stringify(await status().innerText())}; server answered ${served} /infill requests`);
    assert.ok(served >= 1);
    assert.deepEqual(sidecars(wb!.server), [], 'no local engine in remote mode');
  });

  it('a server that goes away gives one warning and an "unreachable" status, not a retry per keystroke', async () => {
    await http!.close();
    await typeAndWaitForGhost(page, PY, PY_TYPING[0]);
    await page.locator('.notification-toast', { hasText: 'cannot reach' }).first().waitFor({ timeout: 10_000 });
    await status().filter({ hasText: 'unreachable' }).waitFor({ timeout: 10_000 });
    await screenshot('unreachable');
    for (const t of PY_TYPING.slice(1, 4)) await typeAndWaitForGhost(page, PY, t);  // typing on, within the backoff and after it
    // Every notification of the session, toasts that faded included: the notification center's list.
    await runCommand(page, 'Notifications: Show Notifications');
    await page.locator('.notifications-center').waitFor({ timeout: 10_000 });
    const warnings = await page.locator('.notifications-center .monaco-list-row', { hasText: 'cannot reach' }).count();
    console.log(`      status bar ${JSON.stringify(await status().innerText())}; ${warnings} "cannot reach" notification(s) after 4 typing bursts`);
    assert.equal(warnings, 1);
  });
});
