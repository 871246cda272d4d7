// frspec tokenize: a model's tokenizer from the command line (text -> ids, ids -> text, tokenizer facts).
import { type Command, parseCommandArgs, printJson, readAll, UsageError } from '../command';
import { openTokenizer, type Tokenizer } from '../../native/tokenizer';

export const tokenize: Command = {
  name: ['tokenize'],
  summary: "encode text with a model's tokenizer, or decode token ids",
  help: `usage: frspec tokenize --model MODEL.gguf [--text TEXT | --decode | --info] [--json]

Reads text on stdin (or --text) and prints its token ids as a JSON array. No BOS is added and the text is
plain text: "<|fim_prefix|>" in it is ordinary characters, never a special token.
  --decode   read a JSON array of token ids on stdin and write their exact bytes
  --info     print the tokenizer: pre-tokenizer, vocabulary size, fingerprint, special token ids
  --json     one JSON object as the last line: {ok, ids, count}, {ok, text, count} or {ok, ...info}
Byte-level BPE (tokenizer.ggml.model = gpt2) with the qwen2, llama-bpe and deepseek-coder pre-tokenizers.`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      model: { type: 'string', short: 'm' },
      text: { type: 'string' },
      decode: { type: 'boolean' },
      info: { type: 'boolean' },
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.model) throw new UsageError('--model MODEL.gguf is required');
    if ([values.text !== undefined, values.decode, values.info].filter(Boolean).length > 1) {
      throw new UsageError('--text, --decode and --info exclude each other');
    }
    const tok = openTokenizer(values.model);

    if (values.info) {
      const info = { pre: tok.pre, vocabSize: tok.vocabSize, fingerprint: tok.fingerprint, specials: tok.specials };
      if (values.json) printJson(io, { ok: true, ...info });
      else io.stdout.write(JSON.stringify(info, null, 2) + '\n');
      return;
    }

    if (values.decode) {
      const ids = parseIds((await readAll(io.stdin)).toString('utf8'), tok);
      if (values.json) {
        printJson(io, { ok: true, text: tok.decode(ids), count: ids.length });
      } else {
        io.stdout.write(tok.decodeBytes(ids));
      }
      return;
    }

    // Bytes from stdin go to the tokenizer as they are, so text that is not valid UTF-8 round-trips too.
    const input = values.text !== undefined ? values.text : await readAll(io.stdin);
    const ids = Array.from(tok.encode(input));
    if (values.json) printJson(io, { ok: true, ids, count: ids.length });
    else io.stdout.write(JSON.stringify(ids) + '\n');
  },
};

function parseIds(text: string, tok: Tokenizer): number[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`stdin is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new UsageError('stdin must be a JSON array of token ids');
  value.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
      throw new UsageError(`token id ${JSON.stringify(id)} at index ${i} is not in the vocabulary (0 to ${tok.vocabSize - 1})`);
    }
  });
  return value as number[];
}
