// The GGUF reader through the addon: every metadata type, real models, and clear errors (never a crash)
// for hostile files (the mutation fuzzer gguf_fuzz runs from native/tests/programs.json).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openGguf } from '../../native/gguf';
import { buildGguf, f32Bytes, GGML_TYPE_IDS, type GgufMeta } from '../../fixtures/gguf-writer';
import { demoModel, requireShared } from '../helpers/shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-gguf-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));


function write(name: string, bytes: Uint8Array): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const allTypes: GgufMeta[] = [
  { key: 'general.architecture', type: 'string', value: 'qwen2' },
  { key: 'v.u8', type: 'u8', value: 200 },
  { key: 'v.i8', type: 'i8', value: -100 },
  { key: 'v.u16', type: 'u16', value: 60000 },
  { key: 'v.i16', type: 'i16', value: -30000 },
  { key: 'v.u32', type: 'u32', value: 4000000000 },
  { key: 'v.i32', type: 'i32', value: -2000000000 },
  { key: 'v.f32', type: 'f32', value: 0.25 },
  { key: 'v.bool', type: 'bool', value: true },
  { key: 'v.u64', type: 'u64', value: 1n << 60n },
  { key: 'v.i64', type: 'i64', value: -5n },
  { key: 'v.f64', type: 'f64', value: 1e300 },
  { key: 'v.utf8', type: 'string', value: 'héllo <|fim_prefix|> 😀' },
  { key: 'a.str', type: 'array', elementType: 'string', value: ['a', '', 'ü'] },
  { key: 'a.i32', type: 'array', elementType: 'i32', value: [1, -2, 3] },
  { key: 'a.f32', type: 'array', elementType: 'f32', value: [0.5, -1.5] },
  { key: 'a.bool', type: 'array', elementType: 'bool', value: [true, false] },
];

function smallModel(extra: GgufMeta[] = []): Buffer {
  return buildGguf({
    metadata: [...allTypes, ...extra],
    tensors: [
      { name: 'w', shape: [4, 2], type: GGML_TYPE_IDS.F32, data: f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]) },
      { name: 'b', shape: [3], type: GGML_TYPE_IDS.F32, data: f32Bytes([9, 10, 11]) },
    ],
  });
}

describe('GGUF reader', () => {
  it('reads every metadata value type and the tensor directory', () => {
    const f = openGguf(write('all.gguf', smallModel()));
    assert.equal(f.version, 3);
    assert.equal(f.alignment, 32);
    assert.equal(f.get('general.architecture'), 'qwen2');
    assert.equal(f.get('v.u8'), 200);
    assert.equal(f.get('v.i8'), -100);
    assert.equal(f.get('v.u16'), 60000);
    assert.equal(f.get('v.i16'), -30000);
    assert.equal(f.get('v.u32'), 4000000000);
    assert.equal(f.get('v.i32'), -2000000000);
    assert.equal(f.get('v.f32'), 0.25);
    assert.equal(f.get('v.bool'), true);
    assert.equal(f.get('v.u64'), 1n << 60n);
    assert.equal(f.get('v.i64'), -5);
    assert.equal(f.get('v.f64'), 1e300);
    assert.equal(f.get('v.utf8'), 'héllo <|fim_prefix|> 😀');
    assert.deepEqual(f.get('a.str'), ['a', '', 'ü']);
    assert.deepEqual(f.get('a.i32'), [1, -2, 3]);
    assert.deepEqual(f.get('a.f32'), [0.5, -1.5]);
    assert.deepEqual(f.get('a.bool'), [1, 0]);
    assert.equal(f.get('missing'), undefined);
    assert.deepEqual(f.keys().find((k) => k.key === 'a.str'), { key: 'a.str', type: 'array', elementType: 'string', length: 3 });
    const tensors = f.tensors();
    assert.deepEqual(tensors.map((t) => [t.name, t.type, t.shape, t.nBytes]), [['w', 'F32', [4, 2], 32], ['b', 'F32', [3], 12]]);
    assert.equal(tensors[1].offset % 32, 0);
  });

  it('honours general.alignment', () => {
    const bytes = buildGguf({
      metadata: allTypes, alignment: 64,
      tensors: [{ name: 'x', shape: [3], type: GGML_TYPE_IDS.F32, data: f32Bytes([1, 2, 3]) }, { name: 'y', shape: [2], type: GGML_TYPE_IDS.F32, data: f32Bytes([1, 2]) }],
    });
    const f = openGguf(write('align64.gguf', bytes));
    assert.equal(f.alignment, 64);
    assert.equal(f.dataOffset % 64, 0);
    assert.equal(f.tensors()[1].offset, 64);
  });

  describe('refuses bad files with a clear error, never a crash', () => {
    const good = smallModel();
    const cases: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
      ['bad magic', (b) => { const c = Buffer.from(b); c.write('GGML', 0); return c; }, /offset 0: bad magic/],
      ['unsupported version', (b) => { const c = Buffer.from(b); c.writeUInt32LE(4, 4); return c; }, /offset 4: unsupported GGUF version 4/],
      ['tensor count that cannot fit', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(1n << 62n, 8); return c; }, /tensor count \d+ cannot fit/],
      ['metadata count that cannot fit', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(0xffffffffffffffffn, 16); return c; }, /metadata count \d+ cannot fit/],
      ['string length past the end', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(1n << 40n, 24); return c; }, /offset 24: metadata key: string length \d+ exceeds/],
      ['empty file', () => Buffer.alloc(0), /too small for a GGUF header/],
    ];
    for (const [name, mutate, expected] of cases) {
      it(name, () => {
        const file = write(`${name.replace(/ /g, '_')}.gguf`, mutate(good));
        assert.throws(() => openGguf(file), (e: Error) => expected.test(e.message) && e.message.includes(file));
      });
    }

    it('every truncation of a valid file is refused', () => {
      const bytes = smallModel();
      const dataEnd = bytes.length - 20;  // the last tensor's 12 bytes are followed by 20 bytes of alignment padding
      for (let n = 0; n < dataEnd; n += 3) {
        const file = write('trunc.gguf', bytes.subarray(0, n));
        assert.throws(() => openGguf(file), (e: Error) => {
          assert.match(e.message, /truncated|too small|outside the file|cannot fit|exceeds/, `prefix of ${n} bytes: ${e.message}`);
          return true;
        });
      }
    });

    it('tensor data outside the file', () => {
      const bytes = buildGguf({ metadata: allTypes, tensors: [{ name: 'w', shape: [4], type: 0, data: f32Bytes([1, 2, 3, 4]) }] });
      const file = write('outside.gguf', bytes.subarray(0, bytes.length - 20));
      assert.throws(() => openGguf(file), /tensor 'w' data \(16 bytes at data offset 0\) lies outside the file/);
    });

    it('unknown tensor type, bad row size, misaligned offset, bad alignment', () => {
      const mk = (type: number, shape: number[], dataLen: number, extra: GgufMeta[] = []) =>
        buildGguf({ metadata: [...allTypes, ...extra], tensors: [{ name: 'w', shape, type, data: new Uint8Array(dataLen) }] });
      assert.throws(() => openGguf(write('t1.gguf', mk(99, [4], 16))), /tensor 'w': unknown tensor type id 99/);
      assert.throws(() => openGguf(write('t2.gguf', mk(GGML_TYPE_IDS.Q8_0, [31], 34))), /row length 31 is not a multiple of the Q8_0 block size 32/);
      assert.throws(() => openGguf(write('t3.gguf', mk(0, [4], 16, [{ key: 'general.alignment', type: 'u32', value: 48 }]))), /general.alignment 48 is not a power of two/);
      // Misaligned tensor offset: rewrite the offset field (the last 8 bytes of the directory).
      const two = buildGguf({ metadata: allTypes, tensors: [{ name: 'a', shape: [4], type: 0, data: new Uint8Array(16) }, { name: 'b', shape: [4], type: 0, data: new Uint8Array(16) }] });
      const f = openGguf(write('ok2.gguf', two));
      const dirEnd = two.lastIndexOf(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x62])) + 9 + 4 + 8 + 4;  // name 'b', n_dims, dim, type
      assert.equal(Number(two.readBigUInt64LE(dirEnd)), f.tensors()[1].offset);
      const bad = Buffer.from(two);
      bad.writeBigUInt64LE(BigInt(f.tensors()[1].offset + 4), dirEnd);
      assert.throws(() => openGguf(write('t4.gguf', bad)), /tensor 'b': data offset 36 is not a multiple of the alignment 32/);
    });

    it('a path that is not a file', () => {
      assert.throws(() => openGguf(tmp), /not a regular file/);
      assert.throws(() => openGguf(path.join(tmp, 'nope.gguf')), /cannot open/);
    });
  });

  it('reads the demo target model', function () {
    requireShared(this);
    const f = openGguf(demoModel('demo-target')!);
    assert.equal(f.get('general.architecture'), 'qwen2');
    assert.equal(f.get('qwen2.embedding_length'), 256);
    assert.equal((f.get('tokenizer.ggml.tokens') as string[]).length, 151936);
    const emb = f.tensors().find((t) => t.name === 'token_embd.weight')!;
    assert.deepEqual([emb.type, emb.shape], ['F16', [256, 151936]]);
    assert.equal(f.tensors().length, 98);
  });
});
