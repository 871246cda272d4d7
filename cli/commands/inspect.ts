// frspec inspect: validate a GGUF file and print its header, metadata and tensors.
import { type Command, parseCommandArgs, printJson, UsageError } from '../command';
import { cpuKernels } from '../../native/cpu-kernels';
import { openGguf } from '../../native/gguf';

export const inspect: Command = {
  name: ['inspect'],
  summary: 'validate a GGUF file and list its metadata and tensors',
  help: `usage: frspec inspect [--json] MODEL.gguf

Validates the whole file (header, metadata, tensor directory, data bounds) and prints its metadata
(arrays abbreviated) and tensors, then which CPU kernels this machine runs (FRSPEC_CPU_VARIANT=v3|avx512|amx
forces a variant). Exits 1 with the reason when the file is not a valid GGUF.`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {});
    if (positionals.length !== 1) throw new UsageError('expected one GGUF file');
    const f = openGguf(positionals[0]);
    const keys = f.keys();
    const tensors = f.tensors();
    if (values.json) {
      const metadata: Record<string, unknown> = {};
      for (const k of keys) metadata[k.key] = k.type === 'array' ? { array: k.elementType, length: k.length } : f.get(k.key);
      printJson(io, { ok: true, version: f.version, alignment: f.alignment, dataOffset: f.dataOffset, metadata, tensors, cpuKernels: cpuKernels() },);
      return;
    }
    io.stdout.write(`GGUF v${f.version}: ${keys.length} metadata keys, ${tensors.length} tensors, alignment ${f.alignment}\n`);
    for (const k of keys) {
      const shown = k.type === 'array' ? `[${k.length} × ${k.elementType}]` : JSON.stringify(f.get(k.key), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      io.stdout.write(`  ${k.key.padEnd(44)} ${shown}\n`);
    }
    for (const t of tensors) io.stdout.write(`  ${t.name.padEnd(32)} ${t.type.padEnd(5)} [${t.shape.join(', ')}]\n`);
    const cpu = cpuKernels();
    io.stdout.write(`cpu kernels: ${cpu.summary ?? `none (${cpu.error})`}\n`);
  },
};
