#!/usr/bin/env python3
"""Merges the GPU comparison's per-run JSON lines (llama_gpu_bench, cuda_gguf_bench) into one summary.

  summarize.py RESULTS.jsonl STEPS.jsonl NVIDIA_SMI.csv OUT.json
Prints one line per model: our decode and prompt speed next to llama.cpp's best configuration (flash
attention on/off, host or backend greedy), and the ratio; then the speculative rows. Writes everything
(every run, every step's exit status and seconds) to OUT.json.
"""
import json
import sys


def lines(path):
    out = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith('{'):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def main():
    results, steps, smi, dst = sys.argv[1:5]
    runs, step_rows = lines(results), lines(steps)
    try:
        device = open(smi).read().strip().splitlines()[-1]
    except (OSError, IndexError):
        device = None
    plain = {}
    for r in runs:
        if r.get('mode') == 'plain':
            plain.setdefault(r.get('label', '').replace(' (first process)', ''), []).append(r)
    compare = []
    for label, rs in plain.items():
        ours = [r for r in rs if r['engine'] == 'frspec']
        llama = [r for r in rs if r['engine'] != 'frspec']
        row = {'model': label}
        if ours:
            o = ours[0]
            row.update(ours_decode_tok_s=o['decode_tok_s'], ours_ms_per_token=o['ms_per_token'],
                       ours_prompt_tok_s=o['prompt_tok_s'], ours_load_ms=o.get('load_ms'),
                       common_prefix_with_llama=o.get('common_prefix_with_other'))
        if llama:
            best = max(llama, key=lambda r: r['decode_tok_s'])
            bestp = max(llama, key=lambda r: r['prompt_tok_s'])
            row.update(llama_decode_tok_s=best['decode_tok_s'], llama_ms_per_token=best['ms_per_token'],
                       llama_best_decode_config={'flash_attn': best['flash_attn'], 'backend_sampling': best['backend_sampling']},
                       llama_prompt_tok_s=bestp['prompt_tok_s'],
                       llama_first_process_warmup_ms=max(r.get('warmup_ms', 0) for r in llama))
        if ours and llama:
            row['decode_speedup_vs_llama'] = round(row['ours_decode_tok_s'] / row['llama_decode_tok_s'], 3)
            row['prompt_speedup_vs_llama'] = round(row['ours_prompt_tok_s'] / row['llama_prompt_tok_s'], 3)
        compare.append(row)
    spec = [r for r in runs if r.get('mode') == 'speculative']
    summary = {'device': device, 'plain': compare, 'speculative': spec, 'steps': step_rows, 'runs': runs}
    json.dump(summary, open(dst, 'w'), indent=1)
    print(f'device: {device}')
    for row in compare:
        print(json.dumps(row))
    for r in spec:
        print(json.dumps({k: r.get(k) for k in ('engine', 'config', 'draft_max', 'flash_attn', 'spec_decode_tok_s',
                                                  'plain_decode_tok_s', 'decode_speedup_vs_plain', 'tau',
                                                  'outputs_differing_from_plain')}))
    failed = [s for s in step_rows if s.get('exit')]
    print(json.dumps({'steps': len(step_rows), 'failed': failed,
                      'skipped': [s['step'] for s in step_rows if s.get('skipped')]}))


if __name__ == '__main__':
    main()
