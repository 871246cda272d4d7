// frspec vocab export: the workspace's draft vocabulary for a team's GPU server — SGLang's
// --speculative-token-map file (FR-Spec with an EAGLE head) or JSON — written by our own code (vocab/export.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, intOption, parseCommandArgs, printJson, UsageError } from '../command';
import { openTokenizer } from '../../native/tokenizer';
import { encodeTokenMap, type ExportFormat, hotIds } from '../../vocab/export';
import { readVocab } from '../../vocab/format';

export const vocabExport: Command = {
  name: ['vocab', 'export'],
  summary: 'write the top-k ids of a .frv vocabulary as SGLang\'s --speculative-token-map (.pt) or JSON',
  help: `usage: frspec vocab export --format sglang|json --top-k K [--model M.gguf] V.frv OUT

Writes the K most frequent ids of V.frv (forced specials such as EOS and the FIM tokens first), so a
server drafts with the vocabulary of YOUR code:
  --format sglang   a PyTorch file (zip archive with data.pkl + int64 storage, as torch.save writes) that
                    torch.load(OUT, weights_only=True) reads as a 1-D int64 tensor: pass it to
                    python -m sglang.launch_server ... --speculative-algorithm EAGLE --speculative-token-map OUT
  --format json     {"format": "frspec-token-map", tokenizer, corpus, topK, coverage, ids: [...]}
With --model, refuses a vocabulary counted with another tokenizer than M's (the ids would be wrong).
Prints the share of the counted tokens the exported ids cover.

options:
  --format F        sglang or json (required)
  --top-k K         how many ids (required; FR-Spec uses 8192-32768; all ids when the file has fewer)
  --model M.gguf    the server's target model: check the tokenizer
  --json            print one JSON object as the last line`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { format: { type: 'string' }, 'top-k': { type: 'string' }, model: { type: 'string' } });
    if (values.format !== 'sglang' && values.format !== 'json') throw new UsageError(`--format must be sglang or json, got '${values.format ?? ''}'`);
    if (values['top-k'] === undefined) throw new UsageError('--top-k K is required (e.g. 32768)');
    const topK = intOption(values['top-k'], 'top-k', 0, 1, 1 << 24);
    if (positionals.length !== 2) throw new UsageError('expected V.frv and OUT');
    const [file, out] = positionals;
    if (!fs.existsSync(path.dirname(path.resolve(out)))) throw new UsageError(`${out}: its folder does not exist`);
    const tokenizer = values.model ? openTokenizer(values.model) : undefined;
    const v = readVocab(file, tokenizer && { name: values.model!, tokenizer });
    const map = hotIds(v, topK);
    const bytes = encodeTokenMap(v, map, values.format as ExportFormat, file);
    const tmp = `${out}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, out);
    const summary = { ok: true, out, format: values.format, ids: map.ids.length, topK, coverage: map.coverage, bytes: bytes.length, fingerprint: v.fingerprint, vocabSize: v.vocabSize };
    io.stdout.write(`wrote ${out}: ${map.ids.length} ids${map.ids.length < topK ? ` (the file has only ${v.ids.length})` : ''} covering ` +
      `${(100 * map.coverage).toFixed(2)}% of ${v.corpus.tokens} counted tokens, ${values.format === 'sglang' ? 'PyTorch int64 tensor' : 'JSON'}, ${bytes.length} bytes\n`);
    if (values.json) printJson(io, summary);
  },
};
