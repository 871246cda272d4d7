// frspec vocab export: SGLang's --speculative-token-map written by our own code. The bytes are checked against
// PyTorch's format here (zip of stored records aligned to 64 bytes, the pickle that rebuilds an int64 tensor,
// the storage); and where Debian's python3-torch is installed (/usr/bin/python3 -c 'import torch'), the file
// is loaded with torch.load(path, weights_only=True), exactly as SGLang's load_token_map does.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { encodeVocab, type VocabFile } from '../../vocab/format';
import { tensorPickle, torchSaveInt64 } from '../../vocab/torch-save';
import { frspec, lastJson } from '../helpers/cli';
import { demoModel, requireShared } from '../helpers/shared';

interface Entry { name: string; method: number; crc: number; size: number; dataAt: number; data: Buffer }

/**
 * Reads a zip through its central directory (as torch's reader does). `strict` (our files) also checks that
 * each local header repeats the method and CRC; torch's own writer may leave those to a data descriptor.
 */
function readZip(buf: Buffer, strict = true): Entry[] {
  const eocd = buf.length - 22;
  assert.equal(buf.readUInt32LE(eocd), 0x06054b50, 'end of central directory record');
  const n = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50);
    const method = buf.readUInt16LE(at + 10), crc = buf.readUInt32LE(at + 16), size = buf.readUInt32LE(at + 24);
    assert.equal(buf.readUInt32LE(at + 20), size, 'stored: compressed size = size');
    const nameLen = buf.readUInt16LE(at + 28), extraLen = buf.readUInt16LE(at + 30), commentLen = buf.readUInt16LE(at + 32);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const local = buf.readUInt32LE(at + 42);
    assert.equal(buf.readUInt32LE(local), 0x04034b50, `${name}: local header`);
    if (strict) {
      assert.equal(buf.readUInt16LE(local + 8), method);
      assert.equal(buf.readUInt32LE(local + 14), crc);
    }
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(dataAt, dataAt + size);
    out.push({ name, method, crc, size, dataAt, data });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const torchPython = (() => {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();

function syntheticVocab(n: number): VocabFile {
  const ids = new Uint32Array(n), counts = new Float64Array(n);
  for (let i = 0; i < n; i++) { ids[i] = i === 0 ? 151643 : (i * 7919) % 150000; counts[i] = i === 0 ? 3 : 10_000 - i; }
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) { while (seen.has(ids[i])) ids[i]++; seen.add(ids[i]); }
  // Keep the ranking rule (count descending, ties by id) after the one forced id.
  return {
    fingerprint: 'f'.repeat(64), pre: 'qwen2', vocabSize: 151936, source: 'synthetic', createdAt: 0, forced: 1,
    corpus: { files: 1, bytes: 1, tokens: counts.reduce((a, b) => a + b, 0) }, ids, counts,
  };
}

describe('vocab export: SGLang token map (PyTorch format) and JSON', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-export-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes torch.save\'s layout: stored records, data on 64-byte boundaries, valid CRCs', () => {
    const ids = [151643, 0, 1, 42, 65535, 65536, 151935];
    const zip = readZip(torchSaveInt64(ids));
    assert.deepEqual(zip.map((e) => e.name), ['archive/data.pkl', 'archive/byteorder', 'archive/data/0', 'archive/version']);
    for (const e of zip) {
      assert.equal(e.method, 0, `${e.name} is stored`);
      assert.equal(e.dataAt % 64, 0, `${e.name} data at ${e.dataAt}`);
      assert.equal(zlib.crc32(e.data), e.crc, `${e.name} CRC`);
    }
    const get = (name: string) => zip.find((e) => e.name === name)!.data;
    assert.equal(get('archive/byteorder').toString(), 'little');
    assert.equal(get('archive/version').toString(), '3\n');
    const storage = get('archive/data/0');
    assert.equal(storage.length, 8 * ids.length);
    assert.deepEqual(Array.from({ length: ids.length }, (_, i) => Number(storage.readBigInt64LE(8 * i))), ids);
  });

  it('pickles torch._utils._rebuild_tensor_v2(storage, 0, (n,), (1,), False, OrderedDict()) with protocol 2', () => {
    const p = tensorPickle(300);
    // Opcode by opcode (pickletools.dis names): PROTO 2, GLOBAL, MARK, MARK, BINUNICODE 'storage', GLOBAL
    // 'torch LongStorage', BINUNICODE '0', BINUNICODE 'cpu', BININT2 300, TUPLE, BINPERSID, BININT1 0,
    // BININT2 300, TUPLE1, BININT1 1, TUPLE1, NEWFALSE, GLOBAL 'collections OrderedDict', EMPTY_TUPLE,
    // REDUCE, TUPLE, REDUCE, STOP.
    const expected = Buffer.concat([
      Buffer.from([0x80, 2]), Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n'), Buffer.from('(('),
      Buffer.from([0x58, 7, 0, 0, 0]), Buffer.from('storage'), Buffer.from('ctorch\nLongStorage\n'),
      Buffer.from([0x58, 1, 0, 0, 0]), Buffer.from('0'), Buffer.from([0x58, 3, 0, 0, 0]), Buffer.from('cpu'),
      Buffer.from([0x4d, 300 & 0xff, 300 >> 8, 0x74, 0x51, 0x4b, 0, 0x4d, 300 & 0xff, 300 >> 8, 0x85, 0x4b, 1, 0x85, 0x89]),
      Buffer.from('ccollections\nOrderedDict\n'), Buffer.from([0x29, 0x52, 0x74, 0x52, 0x2e]),
    ]);
    assert.deepEqual(p, expected);
    assert.equal(tensorPickle(70_000).subarray(-40).includes(0x4a), true, 'BININT for n > 65535');
  });

  it('frspec vocab export --format sglang|json writes the top-k ids, forced specials first', async () => {
    const frv = path.join(dir, 'v.frv');
    const v = syntheticVocab(1000);
    fs.writeFileSync(frv, encodeVocab(v));
    const pt = path.join(dir, 'map.pt');
    const r = await frspec(['vocab', 'export', '--format', 'sglang', '--top-k', '256', frv, pt, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out);
    assert.equal(j.ids, 256);
    assert.ok(j.coverage > 0 && j.coverage < 1);
    const storage = readZip(fs.readFileSync(pt)).find((e) => e.name === 'archive/data/0')!.data;
    assert.deepEqual(Array.from({ length: 256 }, (_, i) => Number(storage.readBigInt64LE(8 * i))), Array.from(v.ids.subarray(0, 256)));
    const js = path.join(dir, 'map.json');
    assert.equal((await frspec(['vocab', 'export', '--format', 'json', '--top-k', '5000', frv, js])).code, 0);
    const parsed = JSON.parse(fs.readFileSync(js, 'utf8'));
    assert.equal(parsed.topK, 1000, 'all ids when the file has fewer than k');
    assert.deepEqual(parsed.ids, Array.from(v.ids));
    assert.equal(parsed.tokenizer.fingerprint, v.fingerprint);
    // Bad usage: one-line reasons, exit 2.
    for (const [args, why] of [
      [['--format', 'onnx', '--top-k', '5', frv, pt], /--format must be sglang or json/],
      [['--format', 'sglang', frv, pt], /--top-k K is required/],
      [['--format', 'sglang', '--top-k', '0', frv, pt], /--top-k must be an integer from 1/],
      [['--format', 'sglang', '--top-k', '5', frv], /expected V\.frv and OUT/],
      [['--format', 'sglang', '--top-k', '5', frv, path.join(dir, 'no', 'x.pt')], /its folder does not exist/],
    ] as const) {
      const e = await frspec(['vocab', 'export', ...args]);
      assert.equal(e.code, 2, `${args.join(' ')}: ${e.err}`);
      assert.match(e.err, why);
    }
    const damaged = path.join(dir, 'bad.frv');
    fs.writeFileSync(damaged, fs.readFileSync(frv).subarray(0, 100));
    const d = await frspec(['vocab', 'export', '--format', 'sglang', '--top-k', '5', damaged, pt]);
    assert.equal(d.code, 1);
    assert.match(d.err, /truncated/);
  });

  it('--model refuses a vocabulary counted with another tokenizer', async function () {
    requireShared(this);
    const frv = path.join(dir, 'other.frv');
    fs.writeFileSync(frv, encodeVocab(syntheticVocab(100)));
    const r = await frspec(['vocab', 'export', '--format', 'sglang', '--top-k', '10', '--model', demoModel('demo-target')!, frv, path.join(dir, 'x.pt')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /was built for tokenizer f{8}/);
  });

  it('torch.load(path, weights_only=True) reads the ids back (Debian python3-torch)', async function () {
    if (!torchPython) {
      console.log('    (skipped: /usr/bin/python3 cannot import torch; bash scripts/torch-check-setup.sh installs Debian\'s python3-torch — the byte-level checks above still ran)');
      this.skip();
    }
    const ids = [151643, 151659, 0, 1, 2, 3, 70000, 151935];
    const file = path.join(dir, 'sglang.pt');
    fs.writeFileSync(file, torchSaveInt64(ids));
    // SGLang's load_token_map: hot_token_id = torch.load(path, weights_only=True); torch.tensor(hot_token_id, dtype=torch.int64)
    const script = `
import sys, torch
t = torch.load(sys.argv[1], weights_only=True)
assert isinstance(t, torch.Tensor), type(t)
assert t.dtype == torch.int64 and t.dim() == 1, (t.dtype, t.shape)
hot = torch.tensor(t.tolist(), dtype=torch.int64)
print(torch.__version__, t.tolist())
`;
    const out = execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' }).trim();
    console.log(`      torch ${out.split(' ')[0]}: torch.load(weights_only=True) → int64 tensor of ${ids.length} ids`);
    assert.deepEqual(JSON.parse(out.slice(out.indexOf('['))), ids);
    // ...and a file torch itself saved has the same records (names, order of the data) as ours.
    const theirs = path.join(dir, 'torch-saved.pt');
    execFileSync('/usr/bin/python3', ['-c', `import torch; torch.save(torch.tensor(${JSON.stringify(ids)}, dtype=torch.int64), ${JSON.stringify(theirs)})`]);
    const names = readZip(fs.readFileSync(theirs), false).map((e) => e.name.replace(/^[^/]+\//, ''));
    for (const n of ['data.pkl', 'data/0']) assert.ok(names.includes(n), `${n} in ${names}`);
    const storage = readZip(fs.readFileSync(theirs), false).find((e) => e.name.endsWith('/data/0'))!.data;
    assert.deepEqual(storage, readZip(fs.readFileSync(file)).find((e) => e.name.endsWith('/data/0'))!.data, 'same int64 storage bytes');
  });
});
