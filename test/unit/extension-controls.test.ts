// The extension's controls as pure logic: frspec.enable resolution (boolean, language override, the old
// per-language object and its migration), snooze timing, when a request is sent at all (manual mode, the
// rest-of-line rule, explicit triggers), the multi-line settings, the latency-adaptive debounce and the
// alternatives count.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alternativesCount, alternativesRequest, DEFAULT_ALTERNATIVES, MAX_ALTERNATIVES } from '../../extension/control/alternatives';
import { AdaptiveDebounce } from '../../extension/control/debounce';
import { enabledWithoutOverride, migrateLegacyEnable, resolveEnabled, restOfLineAllowsCompletion, whyNoRequest } from '../../extension/control/enablement';
import { Snooze } from '../../extension/control/snooze';
import { lineLimit, postprocess, requestRules } from '../../extension/postprocess/multiline';
import { completeParams, MAX_ALTERNATIVES as SIDECAR_MAX_ALTERNATIVES } from '../../sidecar/params';

describe('extension controls: frspec.enable', () => {
  it('a boolean (as read for the language, override included) is the answer', () => {
    assert.equal(resolveEnabled(true, 'python'), true);
    assert.equal(resolveEnabled(false, 'python'), false);
    assert.equal(resolveEnabled(undefined, 'python'), true, 'unset: on');
  });
  it('the object of earlier versions still works: the language, else "*", else on', () => {
    const legacy = { '*': true, markdown: false, plaintext: false };
    assert.equal(resolveEnabled(legacy, 'markdown'), false);
    assert.equal(resolveEnabled(legacy, 'python'), true);
    assert.equal(resolveEnabled({ '*': false }, 'python'), false);
    assert.equal(resolveEnabled({ python: 'yes' }, 'python'), true, 'a non-boolean entry does not turn it off');
  });
  it('migrates the object to a global value plus language overrides', () => {
    assert.deepEqual(migrateLegacyEnable({ '*': false, markdown: true, 'bad key]': false, go: 1 }), { global: false, languages: { markdown: true } });
    assert.deepEqual(migrateLegacyEnable({ markdown: false }), { global: undefined, languages: { markdown: false } });
    for (const v of [true, false, undefined, null, 'x', ['a']]) assert.equal(migrateLegacyEnable(v), undefined, JSON.stringify(v));
  });
  it('toggling a language removes its override when the value without it already matches (VS Code precedence)', () => {
    // markdown: off by configurationDefaults, the user's global true does not reach it; a user override does.
    const md = { defaultValue: true, globalValue: true, defaultLanguageValue: false, globalLanguageValue: true };
    assert.equal(enabledWithoutOverride(md, 'markdown', 'global'), false, 'without the user override markdown is off: keep writing it');
    // typescript: no default override; globally on, so enabling it again needs no override at all.
    assert.equal(enabledWithoutOverride({ defaultValue: true, globalValue: true, globalLanguageValue: false }, 'typescript', 'global'), true);
    assert.equal(enabledWithoutOverride({ defaultValue: true, globalValue: false, globalLanguageValue: true }, 'typescript', 'global'), false);
    // A workspace's value beats the user's; leaving out the workspace override falls back to the user's.
    assert.equal(enabledWithoutOverride({ defaultValue: true, workspaceValue: false, globalLanguageValue: true, workspaceLanguageValue: false }, 'go', 'workspace'), true);
    assert.equal(enabledWithoutOverride({ defaultValue: { '*': true, go: false } }, 'go', 'global'), false, 'legacy object');
  });
  it('package.json: a language-overridable boolean with prose languages off by default', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const enable = pkg.contributes.configuration.properties['frspec.enable'];
    assert.equal(enable.type, 'boolean');
    assert.equal(enable.scope, 'language-overridable');
    assert.equal(pkg.contributes.configurationDefaults['[markdown]']['frspec.enable'], false);
    // Every command the menu runs is contributed, in the FR-Spec category.
    const menu = fs.readFileSync(path.join(__dirname, '..', '..', 'extension', 'commands', 'control-menu.ts'), 'utf8');
    const contributed = new Map<string, string>(pkg.contributes.commands.map((c: { command: string; category: string }) => [c.command, c.category]));
    for (const [, id] of menu.matchAll(/command: '(frspec\.\w+)'/g)) assert.equal(contributed.get(id), 'FR-Spec', id);
  });
});

describe('extension controls: snooze', () => {
  it('pauses for the chosen minutes and ends by itself', () => {
    const s = new Snooze();
    const t0 = 1_000_000;
    assert.equal(s.active(t0), false);
    s.snooze(5, t0);
    assert.equal(s.active(t0 + 4 * 60_000), true);
    assert.equal(s.label(t0), '5 min');
    assert.equal(s.label(t0 + 4 * 60_000 + 1), '1 min', 'rounded up to the last minute');
    assert.equal(s.active(t0 + 5 * 60_000), false);
    assert.equal(s.label(t0 + 5 * 60_000), '');
  });
  it('a later snooze replaces the earlier; resume ends it; bad minutes are refused', () => {
    const s = new Snooze();
    s.snooze(60, 0);
    s.snooze(5, 0);
    assert.equal(s.remainingMs(0), 5 * 60_000);
    s.resume();
    assert.equal(s.active(0), false);
    assert.throws(() => s.snooze(0), RangeError);
    assert.throws(() => s.snooze(Number.NaN), RangeError);
  });
});

describe('extension controls: when a request is sent', () => {
  const base = { enabled: true, snoozed: false, triggerMode: 'automatic' as const, explicit: false, lineSuffix: '' };
  it('automatic typing at the end of a line: yes', () => assert.equal(whyNoRequest(base), undefined));
  it('disabled is off even for Alt+\\; snooze and manual mode only stop automatic requests', () => {
    assert.equal(whyNoRequest({ ...base, enabled: false, explicit: true }), 'disabled');
    assert.equal(whyNoRequest({ ...base, snoozed: true }), 'snoozed');
    assert.equal(whyNoRequest({ ...base, snoozed: true, explicit: true }), undefined);
    assert.equal(whyNoRequest({ ...base, triggerMode: 'manual' }), 'manual');
    assert.equal(whyNoRequest({ ...base, triggerMode: 'manual', explicit: true }), undefined);
  });
  it('mid-line only before closing brackets, quotes, semicolons and commas', () => {
    for (const ok of ['', '   ', ')', ');', '")', "']", '`;', '}) ,', ')]}>']) assert.ok(restOfLineAllowsCompletion(ok), JSON.stringify(ok));
    for (const no of ['x)', ' + 1', ') {', 'foo', '.bar()', '// note']) assert.ok(!restOfLineAllowsCompletion(no), JSON.stringify(no));
    assert.equal(whyNoRequest({ ...base, lineSuffix: ' + 1' }), 'rest-of-line');
    assert.equal(whyNoRequest({ ...base, lineSuffix: ' + 1', explicit: true }), undefined);
  });
});

describe('extension controls: frspec.multiline and frspec.maxLines', () => {
  const end = { linePrefix: '    return ', lineSuffix: '', nextLines: [] };
  const mid = { linePrefix: 'f(', lineSuffix: ')', nextLines: [] };
  it('auto: one line mid-line, a block (capped) at the end of a line', () => {
    assert.equal(lineLimit(mid, { multiline: 'auto', maxLines: 10 }), 1);
    assert.equal(lineLimit(end, { multiline: 'auto', maxLines: 10 }), 10);
    assert.equal(lineLimit(end, { multiline: 'auto', maxLines: 0 }), undefined);
    assert.deepEqual(requestRules(end, { multiline: 'auto', maxLines: 3 }), { maxLines: 3, stopAtBlankLine: true });
  });
  it('never: one line; always: blocks mid-line too', () => {
    assert.equal(lineLimit(end, { multiline: 'never', maxLines: 10 }), 1);
    assert.equal(lineLimit(mid, { multiline: 'always', maxLines: 4 }), 4);
    assert.equal(postprocess('a +\n    b\n    c', end, { multiline: 'never', maxLines: 10 }), 'a +');
    assert.equal(postprocess('a +\n    b\n    c\n    d', end, { multiline: 'auto', maxLines: 2 }), 'a +\n    b');
  });
});

describe('extension controls: adaptive debounce', () => {
  it('no delay before a measurement; half the smoothed latency after; capped', () => {
    const d = new AdaptiveDebounce();
    assert.equal(d.delayMs(), 0);
    d.record(40);
    assert.equal(d.delayMs(), 20);
    for (let i = 0; i < 50; i++) d.record(200);
    assert.ok(Math.abs(d.delayMs() - 100) <= 1, String(d.delayMs()));
    for (let i = 0; i < 50; i++) d.record(5000);
    assert.equal(d.delayMs(), 250);
  });
  it('follows the engine as it speeds up, and ignores nonsense samples', () => {
    const d = new AdaptiveDebounce();
    for (let i = 0; i < 50; i++) d.record(400);
    const slow = d.delayMs();
    for (let i = 0; i < 20; i++) d.record(30);
    assert.ok(d.delayMs() < slow / 4, `${d.delayMs()} vs ${slow}`);
    const before = d.delayMs();
    d.record(Number.NaN);
    d.record(-5);
    assert.equal(d.delayMs(), before);
  });
});

describe('extension controls: frspec.alternatives.count', () => {
  it('reads an integer 0…4: fractions round down, out of range is clamped, anything else is the default 3', () => {
    assert.equal(alternativesCount(undefined), 3);
    assert.equal(alternativesCount('2'), 3);
    assert.equal(alternativesCount(Number.NaN), 3);
    assert.equal(alternativesCount(0), 0);
    assert.equal(alternativesCount(1), 1);
    assert.equal(alternativesCount(2.9), 2);
    assert.equal(alternativesCount(4), 4);
    assert.equal(alternativesCount(9), 4);
    assert.equal(alternativesCount(-1), 0);
  });
  it('only explicit requests ask for alternatives, as many as the setting says; 0 asks for none', () => {
    assert.deepEqual(alternativesRequest(true, 2), { alternatives: 2 });
    assert.deepEqual(alternativesRequest(true, 4), { alternatives: 4 });
    assert.deepEqual(alternativesRequest(false, 3), {});
    assert.deepEqual(alternativesRequest(true, 0), {});
  });
  it('the setting, its package.json declaration and the sidecar agree on the range and the default', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
    const decl = pkg.contributes.configuration.properties['frspec.alternatives.count'];
    assert.deepEqual([decl.type, decl.minimum, decl.maximum, decl.default], ['integer', 0, MAX_ALTERNATIVES, DEFAULT_ALTERNATIVES]);
    assert.equal(MAX_ALTERNATIVES, SIDECAR_MAX_ALTERNATIVES, 'the sidecar refuses more than its MAX_ALTERNATIVES (-32602)');
    assert.equal(completeParams({ parts: ['x'], ...alternativesRequest(true, alternativesCount(99)) }, 64).alternatives, MAX_ALTERNATIVES);
    assert.throws(() => completeParams({ parts: ['x'], alternatives: MAX_ALTERNATIVES + 1 }, 64), /alternatives/);
  });
});
