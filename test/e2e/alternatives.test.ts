// End to end, several suggestions: in code-server with the demo model and its EAGLE head (as shipped;
// FRSPEC_E2E_PLAIN=1: plain decoding), ghost text shows while
// typing (the greedy suggestion); Alt+] (editor.action.inlineSuggest.showNext) asks the provider explicitly,
// which returns the greedy suggestion first and the target's next-best first tokens continued greedily after
// it, and shows the next one — a different text; Alt+[ goes back to the first. Needs ../shared (the demo
// model). Screenshots: .cache/e2e-artifacts/alternatives-*.png. Run:
// npx mocha --no-config -r tsx/cjs --exit --timeout 300000 test/e2e/alternatives.test.ts
import { strict as assert } from 'node:assert';
import type { Page } from 'playwright-core';
import { demoModel, requireShared } from '../helpers/shared';
import { GHOST, norm, openWorkbench, quickOpen, screenshots, statusItem, typeAndWaitForGhost, TYPING_SETTINGS, type Workbench } from './workbench';

const PY = 'import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n\n\n';
// Spots where the demo model writes something (it often ends at once in fill-in-the-middle).
const TYPING = ['def add(a, b):\n    return a', 'def main():\n    for i in range(', 'def main():\n    print(', 'if __name__ == '];

describe('e2e: several suggestions, cycled with Alt+] / Alt+[', function () {
  this.timeout(600_000);
  let wb: Workbench | undefined;
  let page: Page;
  let screenshot: (name: string) => Promise<void>;
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
    wb = await openWorkbench({
      ...TYPING_SETTINGS,
      'frspec.model': demoModel('demo-target')!, ...(process.env.FRSPEC_E2E_PLAIN ? {} : { 'frspec.eagleModel': demoModel('demo-eagle')! }),
      'frspec.topK': 8192, 'frspec.threads': 2, 'frspec.contextSize': 2048, 'frspec.maxTokens': 16,
    }, { 'sample.py': PY });
    page = wb.page;
    screenshot = screenshots(page, (name) => `alternatives-${name}`);
    await statusItem(page).locator('.codicon-zap').waitFor({ timeout: 120_000 });
  });

  after(async () => { await wb?.close(); });

  it('Alt+] shows another suggestion than the first (the greedy one), Alt+[ goes back', async () => {
    await quickOpen(page, 'sample.py');
    await page.waitForTimeout(1500);
    let shown = false;
    for (const t of TYPING) {
      const first = (await typeAndWaitForGhost(page, PY, t, undefined, 5000))?.ghost ?? '';
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
