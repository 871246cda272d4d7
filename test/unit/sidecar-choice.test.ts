// The per-request choice between speculative and plain decoding (sidecar/choice.ts): from measured
// costs, the cheaper decoder for the request's likely length, a re-measurement of the other one every
// EXPLORE_EVERY requests, both measured before predicting, calibration as a seed that real requests replace.
import { strict as assert } from 'node:assert';
import { type Decision, DecoderChoice, EXPLORE_CLEAR, EXPLORE_EVERY, EXPLORE_WAIT, FIXED_STEPS, type Measured, type Mode } from '../../sidecar/choice';

const plain = (msPerToken: number, tokens = 32): Measured => ({ mode: 'plain', tokens, decodeMs: msPerToken * tokens, steps: tokens });
const spec = (msPerToken: number, tokens = 32, draftPromptMs = 1, tau = 2.5): Measured => ({
  mode: 'speculative', tokens, decodeMs: msPerToken * tokens, steps: Math.max(1, Math.round((tokens - 1) / tau)), draftMs: 0.2 * tokens / tau, verifyMs: 1.8 * tokens / tau, draftPromptMs,
});

/** `n` decisions a second apart (each after a pause, as requests are when not typing). */
function modes(c: DecoderChoice, n: number, maxTokens = 48): Mode[] {
  let t = performance.now();
  return Array.from({ length: n }, () => c.choose(maxTokens, t += 1000).mode);
}

describe('sidecar: speculative or plain, chosen per request from measured costs', () => {
  it('measures both decoders first, alternating', () => {
    const c = new DecoderChoice();
    const first = c.choose(48);
    assert.equal(first.mode, 'speculative');
    assert.match(first.why, /measuring/);
    c.record(spec(1));
    assert.equal(c.choose(48).mode, 'plain');
  });

  it('picks the cheaper one, re-measuring the other every EXPLORE_EVERY requests', () => {
    const c = new DecoderChoice();
    c.record(spec(1.0));
    c.record(plain(2.0));
    const m = modes(c, 4 * EXPLORE_EVERY);
    assert.equal(m.filter((x) => x === 'plain').length, 4, 'one exploration per EXPLORE_EVERY decisions');
    const d = c.choose(48);
    assert.match(d.why, /predicted .* ms speculative \(τ .*\) vs .* ms plain/);
    assert.ok(d.specMs! < d.plainMs!);
  });

  it('does not re-measure plain while speculation is predicted EXPLORE_CLEAR times cheaper, and does again when it is not', () => {
    const c = new DecoderChoice();
    // Typing with the last completions as lookup drafts: 12-token requests in 2 steps of 1.5 plain steps each.
    const fast: Measured = { mode: 'speculative', tokens: 12, steps: 1, decodeMs: 1.5 * (1 + FIXED_STEPS), draftMs: 0.1, verifyMs: 1.4, draftPromptMs: 0 };
    const slowPlain: Measured = { mode: 'plain', tokens: 12, steps: 11, decodeMs: 11 + FIXED_STEPS };
    c.record(fast);
    c.record(slowPlain);
    for (let i = 0; i < 4; i++) c.record(fast);
    const d = c.choose(12);
    assert.ok(d.specMs! * EXPLORE_CLEAR < d.plainMs!, `predicted ${d.specMs} vs ${d.plainMs}`);
    assert.deepEqual(modes(c, 4 * EXPLORE_EVERY, 12).filter((x) => x === 'plain'), [], 'plain re-measured although it cannot win');
    // The completions stop repeating (another place): τ falls, speculation is no longer far cheaper.
    for (let i = 0; i < 4; i++) c.record(specAt(1.5, 1.2));
    const e = c.choose(12);
    assert.ok(!(e.specMs! * EXPLORE_CLEAR < e.plainMs!), `predicted ${e.specMs} vs ${e.plainMs}`);
    assert.ok(modes(c, 2 * EXPLORE_EVERY, 12).includes('plain'), 'plain never re-measured');
  });

  it('decodes plainly where speculation is measured slower, and follows the measurements when they change', () => {
    const c = new DecoderChoice();
    c.record(spec(3.0));
    c.record(plain(2.0));
    assert.equal(c.choose(48).mode, 'plain');
    // The drafter gets cheaper relative to plain (another place in the code: more context lookups): the
    // re-measurements (a plain request beside speculative ones) carry the new ratio.
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 4; j++) c.record(spec(1.0));
      c.record(plain(2.0));
      c.record(spec(1.0));
    }
    assert.equal(c.choose(48).mode, 'speculative');
  });

  // Typing-sized requests: 12 tokens, the first with the prompt, `stepMs` per verify step (speculative) or per token,
  // and a start-up of FIXED_STEPS steps.
  const specAt = (stepMs: number, tau: number): Measured => {
    const steps = Math.round(11 / tau);
    return { mode: 'speculative', tokens: 12, steps, decodeMs: stepMs * (steps + FIXED_STEPS), draftMs: 0.2 * stepMs * steps, verifyMs: 0.8 * stepMs * steps, draftPromptMs: 0 };
  };
  const plainAt = (stepMs: number): Measured => ({ mode: 'plain', tokens: 12, steps: 11, decodeMs: stepMs * (11 + FIXED_STEPS) });

  it('keeps each decoder\'s cost relative to a load level: a load change while one decoder serves moves both', () => {
    // A verify step costs 1.4 plain steps at any load; τ 1.6: speculative is cheaper (1.4 / 1.57 < 1).
    const c = new DecoderChoice();
    for (let i = 0; i < 4; i++) { c.record(specAt(2.8, 1.6)); c.record(plainAt(2.0)); }
    assert.equal(c.choose(12).mode, 'speculative');
    assert.ok(Math.abs(c.costs.stepRatio! - 1.4) < 1e-9, `ratio ${c.costs.stepRatio}`);
    // The load doubles while speculation serves: plain's last measurement (2 ms) is stale, not cheaper.
    for (let i = 0; i < 4; i++) c.record(specAt(2.8, 1.6));
    for (let i = 0; i < 20; i++) c.record(specAt(5.6, 1.6));
    const d = c.choose(12);
    assert.equal(d.mode, 'speculative', d.why);
    assert.ok(Math.abs(d.plainMs! - (11 + FIXED_STEPS) * 4.0) < 3, `plain predicted ${d.plainMs} ms`);

    // τ 1.3: plain is cheaper (1.4 / 1.29 > 1). The load doubles while plain serves: speculation's last
    // measurement (2.8 ms per step) is stale, not cheaper.
    const p = new DecoderChoice();
    for (let i = 0; i < 4; i++) { p.record(specAt(2.8, 1.3)); p.record(plainAt(2.0)); }
    assert.equal(p.choose(12).mode, 'plain');
    for (let i = 0; i < 20; i++) p.record(plainAt(4.0));
    const e = p.choose(12);
    assert.equal(e.mode, 'plain', e.why);
    assert.ok(Math.abs(e.specMs! - (8 + FIXED_STEPS) * 5.6) < 3, `speculative predicted ${e.specMs} ms`);
  });

  it('a re-measurement cut short after a step counts its start-up cost once: speculation is chosen again where it pays', () => {
    // Every request costs its steps plus a start-up of FIXED_STEPS steps: plain 2 ms per token, speculative
    // 2.8 ms per verify step. Typing replay, run j: plain served a context where the drafter missed, then
    // kept serving where it hit, because speculation's re-measurements (a burst's first keystroke) were cut
    // short after a step or two and read as 2.5x plain's per-step cost.
    const c = new DecoderChoice();
    const typed = (m: Measured, nReused = 900): Measured => ({ ...m, nPrompt: 1000, nReused });
    for (let i = 0; i < 4; i++) { c.record(typed(specAt(2.8, 2.75))); c.record(typed(plainAt(2.0))); }
    assert.equal(c.choose(12).mode, 'speculative');
    // A context where the drafter misses (τ 1): plain serves.
    for (let i = 0; i < 3; i++) c.record(typed(specAt(2.8, 1)));
    assert.equal(c.choose(12).mode, 'plain');
    // Another place where it hits again: plain serves, and each speculative re-measurement is superseded after
    // one step that accepted two tokens (3 tokens, 2.8 x (1 + FIXED_STEPS) ms), for about a typing replay's
    // 300 requests. (The previous chooser predicted 26.7 ms speculative against 23.6 plain here; it is 18.2 against 24.)
    c.record(typed(plainAt(2.0), 40));
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < EXPLORE_EVERY - 1; i++) c.record(typed(plainAt(2.0)));
      c.record(typed({ mode: 'speculative', tokens: 3, steps: 1, decodeMs: 2.8 * (1 + FIXED_STEPS), draftMs: 0.6, verifyMs: 2.2, draftPromptMs: 0, interrupted: true }));
    }
    const d = c.choose(12);
    assert.equal(d.mode, 'speculative', d.why);
    assert.ok(Math.abs(c.costs.stepRatio! - 1.4) < 0.05, `step ratio ${c.costs.stepRatio}`);
  });

  it('a due re-measurement waits for a request that follows a pause (a burst\'s first keystroke, not its last)', () => {
    const c = new DecoderChoice();
    let t = 0;
    c.record(specAt(2.8, 2), t); c.record(plainAt(2.0), t);
    // Keystrokes 150 ms apart, each request ending (served or superseded) 50-100 ms before the next one: the
    // re-measurement due at decision EXPLORE_EVERY - 1 waits, but not for ever (EXPLORE_WAIT decisions at most).
    const key = (served = true): Decision => {
      const d = c.choose(12, t += 150);
      c.record({ ...(d.mode === 'plain' ? plainAt(2.0) : specAt(2.8, 2)), interrupted: !served }, t + 50 + (t % 100));
      return d;
    };
    const modesTyped: Mode[] = [];
    for (let n = 0; n < EXPLORE_EVERY - 1 + EXPLORE_WAIT; n++) modesTyped.push(key(n % 2 === 0).mode);
    assert.deepEqual(modesTyped.filter((m) => m === 'plain'), [], 'no re-measurement while keystrokes come close together');
    const forced = key();
    assert.equal(forced.mode, 'plain');
    assert.match(forced.why, /re-measuring/);
    // The next one falls due at the next multiple of EXPLORE_EVERY; it runs on the first request after a pause.
    const due = Math.ceil((EXPLORE_EVERY + EXPLORE_WAIT + 1) / EXPLORE_EVERY) * EXPLORE_EVERY - 1;
    for (let n = EXPLORE_EVERY + EXPLORE_WAIT; n <= due; n++) assert.equal(key().mode, 'speculative');
    t += 500;
    const d = key();
    assert.equal(d.mode, 'plain');
    assert.match(d.why, /re-measuring/);
  });

  it('a short request that cannot pay back the drafter\'s prompt reading decodes plainly', () => {
    const c = new DecoderChoice();
    // Speculation saves 0.5 ms per token but its drafter spends 6 ms on each new prompt.
    for (let i = 0; i < 4; i++) { c.record(spec(1.5, 32, 6)); c.record(plain(2.0)); }
    assert.equal(c.choose(48).mode, 'speculative', '32 tokens: 6 + 48 < 64 ms');
    const short = new DecoderChoice();
    for (let i = 0; i < 4; i++) { short.record(spec(1.5, 4, 6)); short.record(plain(2.0, 4)); }
    assert.equal(short.choose(4).mode, 'plain', '4 tokens: 6 + 6 > 8 ms');
  });

  it('requests superseded after a few tokens do not shorten the expected completion', () => {
    const c = new DecoderChoice();
    for (let i = 0; i < 4; i++) { c.record(spec(1.5, 32, 6)); c.record(plain(2.0)); }
    for (let i = 0; i < 20; i++) c.record({ ...spec(1.5, 6, 6), interrupted: true });
    assert.equal(c.choose(48).mode, 'speculative', 'still ~32 tokens expected');
    assert.ok(c.costs.tokensPerRequest! > 30);
  });

  it('τ and length come from the current context (the requests whose prompts reuse the cache), the session\'s in a new one', () => {
    const c = new DecoderChoice();
    // Over the session speculation pays: τ 2.5 at 4 ms per step (1.6 ms per token) against 2 ms per plain token.
    const typed = (m: Measured, nReused = 900): Measured => ({ ...m, nPrompt: 1000, nReused });
    for (let i = 0; i < 6; i++) { c.record(typed(spec(1.6, 12, 1, 2.5))); c.record(typed(plain(2.0, 12))); }
    assert.equal(c.choose(12).mode, 'speculative');
    // Here the drafter guesses nothing: τ 1.1 at the same cost per step. The session's average still says
    // speculative (τ ≈ 2.2), the context says plain.
    const miss: Measured = { mode: 'speculative', tokens: 12, steps: 11, decodeMs: 44, draftMs: 2, verifyMs: 40, draftPromptMs: 1 };
    c.record(typed(miss));
    c.record(typed(miss));
    assert.ok(c.costs.tau! > 1.5, `session τ ${c.costs.tau}`);
    const d = c.choose(12);
    assert.equal(d.mode, 'plain', d.why);
    assert.ok(d.tau! < 1.5, `context τ ${d.tau}`);
    // Another file: its first request reuses little of the cache; its context starts from the session's τ.
    c.record(typed(plain(2.0, 12), 40));
    assert.equal(c.costs.contextTau, undefined);
    assert.equal(c.predict(12).tau, c.costs.tau);
    // ... and its own requests decide from then on.
    for (let i = 0; i < 2; i++) c.record(typed(spec(1.6, 12, 1, 3)));
    assert.equal(c.choose(12).mode, 'speculative');
  });

  it('a context whose completions stop after a few tokens decodes plainly when the drafter\'s prompt reading does not pay', () => {
    const c = new DecoderChoice();
    const typed = (m: Measured): Measured => ({ ...m, nPrompt: 1000, nReused: 900 });
    for (let i = 0; i < 6; i++) { c.record(typed(spec(1.5, 32, 4))); c.record(typed(plain(2.0, 32))); }
    assert.equal(c.choose(32).mode, 'speculative');
    for (let i = 0; i < 4; i++) c.record(typed(plain(2.0, 3)));
    assert.equal(c.costs.contextTokens! < 5, true);
    assert.equal(c.choose(32).mode, 'plain', '~5 tokens expected: 4 ms of drafter prompt + 3.8 tokens after the first at τ 2.4 (5.9 ms) > 9.6 ms plain');
  });

  it('τ counts the tokens after the first (which comes with the prompt): a request cut short after one step that accepted nothing is τ 1', () => {
    const c = new DecoderChoice();
    const typed = (m: Measured): Measured => ({ ...m, nPrompt: 1000, nReused: 900 });
    for (let i = 0; i < 6; i++) { c.record(typed(spec(1.6, 12, 1, 2.5))); c.record(typed(plain(2.0, 12))); }
    // Typing: each request is superseded after its first step, which accepted nothing (2 tokens, 1 step).
    for (let i = 0; i < 4; i++) c.record(typed({ mode: 'speculative', tokens: 2, steps: 1, decodeMs: 4, draftMs: 0.4, verifyMs: 3.6, draftPromptMs: 1, interrupted: true }));
    assert.ok(c.costs.contextTau! < 1.2, `context τ ${c.costs.contextTau}`);
    assert.equal(c.choose(12).mode, 'plain');
  });

  it('a new context\'s τ starts from the session\'s: one step that accepted nothing does not make it τ 1', () => {
    const c = new DecoderChoice();
    const typed = (m: Measured, nReused = 900): Measured => ({ ...m, nPrompt: 1000, nReused });
    for (let i = 0; i < 6; i++) { c.record(typed(specAt(2.8, 2.75))); c.record(typed(plainAt(2.0))); }
    // Another file: its first request is superseded after one verify step that accepted nothing.
    c.record(typed({ mode: 'speculative', tokens: 2, steps: 1, decodeMs: 2.8, interrupted: true }, 40));
    assert.ok(c.costs.contextTau! > 1.8, `context τ ${c.costs.contextTau}`);
    assert.equal(c.choose(12).mode, 'speculative');
  });

  it('a calibration seeds the estimates; requests that decoded nothing teach nothing', () => {
    const c = new DecoderChoice();
    c.seed(400, 600, 2.2);
    assert.equal(c.choose(48).mode, 'speculative');
    assert.equal(c.costs.tau, 2.2);
    c.record({ mode: 'plain', tokens: 1, decodeMs: 0, steps: 0 });
    assert.equal(c.costs.plainRequests, 1);
    c.reset();
    assert.equal(c.costs.plainMsPerToken, undefined);
  });
});
