// The per-request choice between speculative and plain decoding (sidecar/choice.ts): from measured
// costs, the cheaper decoder for the request's likely length, a re-measurement of the other one every
// EXPLORE_EVERY requests, both measured before predicting, calibration as a seed that real requests replace.
import { strict as assert } from 'node:assert';
import { DecoderChoice, EXPLORE_EVERY, type Measured, type Mode } from '../../sidecar/choice';

const plain = (msPerToken: number, tokens = 32): Measured => ({ mode: 'plain', tokens, decodeMs: msPerToken * tokens, steps: tokens });
const spec = (msPerToken: number, tokens = 32, draftPromptMs = 1, tau = 2.5): Measured => ({
  mode: 'speculative', tokens, decodeMs: msPerToken * tokens, steps: Math.round(tokens / tau), draftMs: 0.2 * tokens / tau, verifyMs: 1.8 * tokens / tau, draftPromptMs,
});

function modes(c: DecoderChoice, n: number, maxTokens = 48): Mode[] {
  return Array.from({ length: n }, () => c.choose(maxTokens).mode);
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
    assert.match(d.why, /predicted .* ms speculative vs .* ms plain/);
    assert.ok(d.specMs! < d.plainMs!);
  });

  it('decodes plainly where speculation is measured slower, and follows the measurements when they change', () => {
    const c = new DecoderChoice();
    c.record(spec(3.0));
    c.record(plain(2.0));
    assert.equal(c.choose(48).mode, 'plain');
    // The machine changes (another workspace vocabulary, load): speculative requests measure faster now.
    for (let i = 0; i < 12; i++) c.record(spec(1.0));
    assert.equal(c.choose(48).mode, 'speculative');
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
    for (let i = 0; i < 20; i++) c.record({ ...spec(1.5, 3, 6), interrupted: true });
    assert.equal(c.choose(48).mode, 'speculative', 'still ~32 tokens expected');
    assert.ok(c.costs.tokensPerRequest! > 30);
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
