// GET /metrics: counters and histograms in the Prometheus text exposition format (version 0.0.4), so a team
// server can be scraped beside SGLang/vLLM. A few fixed series, no labels beyond the decoding mode and the
// request outcome, so memory stays constant however many requests are served.
import type { CompletionStats } from '../protocol';

const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const TAU_BUCKETS = [1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  lines(name: string, labels: string): string[] {
    const l = (extra: string) => `{${[labels, extra].filter(Boolean).join(',')}}`;
    return [
      ...this.buckets.map((b, i) => `${name}_bucket${l(`le="${b}"`)} ${this.counts[i]}`),
      `${name}_bucket${l('le="+Inf"')} ${this.count}`,
      `${name}_sum${labels ? `{${labels}}` : ''} ${this.sum}`,
      `${name}_count${labels ? `{${labels}}` : ''} ${this.count}`,
    ];
  }
}

export type Outcome = 'completed' | 'cancelled' | 'superseded' | 'failed' | 'rejected';
type Mode = CompletionStats['mode'];
const MODES: Mode[] = ['plain', 'speculative'];

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly outcomes = new Map<Outcome, number>();
  private readonly promptTokens = { plain: 0, speculative: 0 };
  private readonly reusedTokens = { plain: 0, speculative: 0 };
  private readonly generated = { plain: 0, speculative: 0 };
  private readonly steps = { plain: 0, speculative: 0 };
  private readonly promptMs = { plain: new Histogram(LATENCY_BUCKETS_MS), speculative: new Histogram(LATENCY_BUCKETS_MS) };
  private readonly decodeMs = { plain: new Histogram(LATENCY_BUCKETS_MS), speculative: new Histogram(LATENCY_BUCKETS_MS) };
  private readonly queueMs = new Histogram(LATENCY_BUCKETS_MS);
  private readonly tau = new Histogram(TAU_BUCKETS);

  /** One HTTP request by route (the path pattern, not the raw URL: bounded cardinality) and status. */
  request(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  outcome(o: Outcome): void {
    this.outcomes.set(o, (this.outcomes.get(o) ?? 0) + 1);
  }

  completion(s: CompletionStats): void {
    this.promptTokens[s.mode] += s.promptTokens;
    this.reusedTokens[s.mode] += s.reusedTokens;
    this.generated[s.mode] += s.tokens;
    this.steps[s.mode] += s.steps;
    this.promptMs[s.mode].observe(s.promptMs);
    this.queueMs.observe(s.queueMs);
    if (s.tokens > 0) this.decodeMs[s.mode].observe(s.decodeMs);
    if (s.mode === 'speculative' && s.steps > 0) this.tau.observe(s.tau);
  }

  /** The exposition text; `gauges` are point-in-time values (queue depth, memory, the calibrated speeds). */
  render(gauges: Record<string, { help: string; value: number }>): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    family('frspec_http_requests_total', 'counter', 'HTTP requests by route and status code.',
      [...this.requests].map(([k, v]) => `frspec_http_requests_total{${k}} ${v}`));
    family('frspec_completions_total', 'counter', 'Completion requests by outcome (superseded: a newer request of the same client replaced it).',
      [...this.outcomes].map(([k, v]) => `frspec_completions_total{outcome="${k}"} ${v}`));
    const perMode = (name: string, help: string, v: Record<Mode, number>) =>
      family(name, 'counter', help, MODES.map((m) => `${name}{mode="${m}"} ${v[m]}`));
    perMode('frspec_prompt_tokens_total', 'Prompt tokens of completed requests, by decoding mode.', this.promptTokens);
    perMode('frspec_prompt_tokens_reused_total', 'Prompt tokens whose KV cache was reused from the previous request.', this.reusedTokens);
    perMode('frspec_generated_tokens_total', 'Generated tokens, by decoding mode (speculative: FR-Spec with a drafter; plain: target alone).', this.generated);
    perMode('frspec_target_steps_total', 'Target forward passes spent on generated tokens; tokens / steps = tau.', this.steps);
    family('frspec_tau', 'histogram', 'Tokens per target pass of each speculative completion (tau).', this.tau.lines('frspec_tau', ''));
    family('frspec_prompt_ms', 'histogram', 'Prompt processing time per request (ms), by decoding mode.',
      MODES.flatMap((m) => this.promptMs[m].lines('frspec_prompt_ms', `mode="${m}"`)));
    family('frspec_decode_ms', 'histogram', 'Decoding time per request after the prompt (ms), by decoding mode.',
      MODES.flatMap((m) => this.decodeMs[m].lines('frspec_decode_ms', `mode="${m}"`)));
    family('frspec_queue_ms', 'histogram', 'Time a request waited for the engine (ms).', this.queueMs.lines('frspec_queue_ms', ''));
    for (const [name, g] of Object.entries(gauges)) family(name, 'gauge', g.help, [`${name} ${g.value}`]);
    return out.join('\n') + '\n';
  }
}
