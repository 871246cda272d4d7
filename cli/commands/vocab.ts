// frspec vocab build / frspec vocab stats: build a frequency-ranked draft vocabulary (.frv) from a folder
// or a JSONL corpus with the target model's tokenizer, and show what is in one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { openTokenizer } from '../../native/tokenizer';
import { buildVocab, type BuildProgress, defaultCacheFile } from '../../vocab/build';
import { isJsonlCorpus } from '../../common/corpus';
import { readVocab, writeVocab } from '../../vocab/format';
import { coverage } from '../../vocab/rank';
import { defaultRules } from '../../vocab/rules';
import { checkOutputFile, ensureDir, isUnderSystemRoot } from '../../common/safe-fs';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function coverageTable(rows: { k: number; share: number }[]): string {
  return `  top-k    coverage\n${rows.map((r) => `  ${String(r.k).padEnd(7)}  ${pct(r.share).padStart(8)}`).join('\n')}\n`;
}

/** A progress bar redrawn in place on a terminal; otherwise one plain line every few seconds. */
function progressReporter(stderr: NodeJS.WritableStream): { update(p: BuildProgress): void; done(): void } {
  const tty = (stderr as NodeJS.WriteStream).isTTY === true;
  let lastLine = Date.now();  // the first plain line after 5 s: short builds stay quiet
  const describe = (p: BuildProgress) =>
    `${p.files}${p.filesTotal !== undefined ? `/${p.filesTotal}` : ''} files, ${mb(p.bytes)}, ${(p.tokens / 1e6).toFixed(2)}M tokens`;
  return {
    update(p) {
      if (tty) {
        const width = 30, filled = Math.round(p.fraction * width);
        stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(100 * p.fraction).toFixed(0).padStart(3)}%  ${describe(p)}\x1b[K`);
      } else if (Date.now() - lastLine >= 5000) {
        lastLine = Date.now();
        stderr.write(`vocab: ${(100 * p.fraction).toFixed(0)}% ${describe(p)}\n`);
      }
    },
    done() { if (tty) stderr.write('\r\x1b[K'); },
  };
}

const build: Command = {
  name: ['vocab', 'build'],
  summary: 'count token frequencies of a folder or corpus and write a ranked draft vocabulary (.frv)',
  help: `usage: frspec vocab build --model M.gguf --out V.frv [options] (FOLDER | CORPUS.jsonl[.xz])

Counts how often each token of M's tokenizer occurs in FOLDER (respecting .gitignore; skipping .git,
node_modules, binaries, non-UTF-8, minified and generated files, lockfiles and files over the size limit;
symlinks followed once) or in a JSON-lines corpus of {lang, path, text} objects (one file per line, .xz
decompressed with the xz command). Writes V.frv: the ids ranked by count, EOS/EOT and FIM tokens first
(docs/vocab-format.md), and prints the share of all tokens covered by the top 8k/16k/32k/64k ids.
Per-file counts are cached (V.frv.cache, or in DIR) so a rebuild re-tokenizes only changed files.

options:
  --model M.gguf          the TARGET model whose tokenizer counts (required)
  --out V.frv             the vocabulary file to write (required)
  --max-file-bytes N      skip files larger than N bytes (default ${defaultRules.maxFileBytes})
  --cache DIR             keep the count cache in DIR instead of beside V.frv
  --no-cache              count everything, read and write no cache
  --json                  print one JSON object as the last line`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      model: { type: 'string' }, out: { type: 'string' }, 'max-file-bytes': { type: 'string' },
      cache: { type: 'string' }, 'no-cache': { type: 'boolean' },
    });
    if (!values.model) throw new UsageError('--model M.gguf is required (the target model whose tokenizer counts)');
    if (!values.out) throw new UsageError('--out V.frv is required');
    if (positionals.length !== 1) throw new UsageError('expected one FOLDER or CORPUS.jsonl[.xz]');
    if (values.cache && values['no-cache']) throw new UsageError('--cache and --no-cache exclude each other');
    const source = positionals[0];
    const maxFileBytes = intOption(values['max-file-bytes'], 'max-file-bytes', defaultRules.maxFileBytes, 1);
    if (!fs.existsSync(source)) throw new UsageError(`${source}: no such file or folder`);
    if (!fs.statSync(source).isDirectory() && !isJsonlCorpus(source)) throw new UsageError(`${source}: expected a folder or a .jsonl / .jsonl.xz corpus`);
    if (isUnderSystemRoot(source)) throw new UsageError(`${source}: refusing to count a kernel file system (/proc, /sys, /dev)`);
    if (!fs.existsSync(path.dirname(path.resolve(values.out)))) throw new UsageError(`${values.out}: its folder does not exist`);
    // Before counting anything: an output that is a folder, a device or under /proc fails now, not at the end.
    checkOutputFile(values.out, 'vocabulary file');
    if (values.cache) ensureDir(values.cache, 'cache folder');

    const tokenizer = openTokenizer(values.model);
    const cacheFile = values['no-cache'] ? undefined : defaultCacheFile(values.out, source, tokenizer.fingerprint, values.cache);
    const abort = new AbortController();
    const onSigint = () => abort.abort(new Error('interrupted (counts so far are kept in the cache)'));
    process.once('SIGINT', onSigint);
    const bar = progressReporter(io.stderr);
    const started = performance.now();
    let result;
    try {
      result = await buildVocab(source, tokenizer, { rules: { maxFileBytes }, cacheFile, signal: abort.signal, onProgress: (p) => bar.update(p) });
    } finally {
      bar.done();
      process.removeListener('SIGINT', onSigint);
    }
    const seconds = (performance.now() - started) / 1000;
    const { vocab } = result;
    writeVocab(values.out, vocab);
    const cov = coverage(vocab.counts, vocab.corpus.tokens);
    const summary = {
      ok: true, out: values.out, source, model: values.model, fingerprint: vocab.fingerprint,
      files: vocab.corpus.files, bytes: vocab.corpus.bytes, tokens: vocab.corpus.tokens, distinct: vocab.ids.length - vocab.forced,
      forced: vocab.forced, skipped: result.skipped, filesTokenized: result.filesTokenized, filesFromCache: result.filesFromCache,
      cache: cacheFile ?? null, seconds: +seconds.toFixed(3), mbPerSec: +(vocab.corpus.bytes / 1e6 / seconds).toFixed(2),
      tokensPerSec: Math.round(vocab.corpus.tokens / seconds), coverage: cov,
    };
    if (result.cacheNote && result.cacheNote !== 'no cache yet') io.stderr.write(`vocab: cache not used: ${result.cacheNote}\n`);
    const skippedText = Object.entries(result.skipped).map(([r, n]) => `${r} ${n}`).join(', ') || 'none';
    io.stdout.write(
      `wrote ${values.out}: ${summary.distinct} distinct ids (+${vocab.forced} forced specials) from ${vocab.corpus.files} files, ` +
        `${mb(vocab.corpus.bytes)}, ${vocab.corpus.tokens} tokens in ${seconds.toFixed(2)} s ` +
        `(${summary.mbPerSec} MB/s, ${summary.tokensPerSec} tokens/s; ${result.filesTokenized} tokenized, ${result.filesFromCache} from cache)\n` +
        `skipped: ${skippedText}\n` + coverageTable(cov),
    );
    if (values.json) printJson(io, summary);
  },
};

const stats: Command = {
  name: ['vocab', 'stats'],
  summary: 'show the header, top-k coverage and most frequent tokens of a .frv vocabulary',
  help: `usage: frspec vocab stats V.frv [--model M.gguf] [--top N] [--json]

Validates V.frv and prints its header (tokenizer, corpus, creation time), the share of the corpus's tokens
covered by the top 8k/16k/32k/64k ids, and the N most frequent ids (default 20). With --model, refuses a
file made for another tokenizer and shows each token's text.`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { model: { type: 'string' }, top: { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError('expected one V.frv file');
    const top = intOption(values.top, 'top', 20, 0, 1_000_000);
    const file = positionals[0];
    const tokenizer = values.model ? openTokenizer(values.model) : undefined;
    const v = readVocab(file, tokenizer && { name: values.model!, tokenizer });
    const cov = coverage(v.counts, v.corpus.tokens);
    const rows = Array.from(v.ids.subarray(0, top), (id, i) => ({
      rank: i, id, count: v.counts[i], share: v.corpus.tokens ? v.counts[i] / v.corpus.tokens : 0,
      forced: i < v.forced, ...(tokenizer ? { text: tokenizer.tokenText(id) } : {}),
    }));
    const header = {
      file, fingerprint: v.fingerprint, pre: v.pre, vocabSize: v.vocabSize, source: v.source,
      createdAt: new Date(v.createdAt).toISOString(), corpus: v.corpus, ids: v.ids.length, forced: v.forced,
    };
    if (values.json) {
      printJson(io, { ok: true, ...header, coverage: cov, top: rows });
      return;
    }
    io.stdout.write(
      `${file}: .frv v1, tokenizer ${v.fingerprint} (pre-tokenizer ${v.pre}, ${v.vocabSize} tokens)\n` +
        `  source   ${v.source}\n  created  ${header.createdAt}\n` +
        `  corpus   ${v.corpus.files} files, ${mb(v.corpus.bytes)}, ${v.corpus.tokens} tokens\n` +
        `  ranked   ${v.ids.length} ids (${v.forced} forced specials first)\n` + coverageTable(cov) +
        `  rank  id        count        share  ${tokenizer ? 'text' : ''}\n` +
        rows.map((r) => `  ${String(r.rank).padStart(4)}  ${String(r.id).padEnd(8)}  ${String(r.count).padStart(11)}  ${pct(r.share).padStart(7)}` +
          `${r.forced ? ' *' : '  '}${r.text !== undefined ? JSON.stringify(r.text) : ''}`).join('\n') + '\n' +
        (v.forced ? '  (* = forced special, listed first whatever its count)\n' : ''),
    );
  },
};

export const vocabCommands: Command[] = [build, stats];
