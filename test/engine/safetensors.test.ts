import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fromTensorData,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  toTensorData,
  writeSafetensors,
} from '../../engine/safetensors';

const sample = () => ({
  a: fromTensorData({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }),
  b: fromTensorData({ dtype: 'int64', shape: [], data: BigInt64Array.from([42n]) }),
  c: fromTensorData({ dtype: 'float64', shape: [0], data: new Float64Array(0) }),
  d: fromTensorData({ dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) }),
});

/** A file whose header is `header` followed by `dataLen` bytes. */
function craft(header: unknown, dataLen: number, lengthOverride?: bigint): Uint8Array {
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + hb.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(hb.length), true);
  out.set(hb, 8);
  return out;
}

test('safetensors: round trip through a file keeps dtypes, shapes, values and metadata', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'st-'));
  try {
    const p = join(dir, 'x.safetensors');
    await writeSafetensors(p, sample(), { note: 'hello' });
    const raw = await readFile(p);
    assert.equal(raw.readBigUInt64LE(0) % 8n, 0n, 'header padded to 8 bytes');
    const { tensors, metadata } = await readSafetensors(p);
    assert.deepEqual(metadata, { note: 'hello' });
    assert.deepEqual([...(toTensorData(tensors.get('a')!).data as Float32Array)], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(toTensorData(tensors.get('a')!).shape, [2, 3]);
    assert.equal((toTensorData(tensors.get('b')!).data as BigInt64Array)[0], 42n);
    assert.equal(tensors.get('c')!.bytes.length, 0);
    assert.equal(toTensorData(tensors.get('d')!).dtype, 'bool');
    const only = await readSafetensors(p, ['b']);
    assert.deepEqual([...only.tensors.keys()], ['b']);
    await assert.rejects(readSafetensors(p, ['zz']), /no tensor named 'zz'/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('safetensors: bf16 is widened to float32 exactly', () => {
  const bits = Uint16Array.from([0x3f80, 0xc000, 0x3e20]); // 1, -2, 0.15625
  const buf = serializeSafetensors({ w: { dtype: 'BF16', shape: [3], bytes: new Uint8Array(bits.buffer) } });
  const t = toTensorData(parseSafetensors(buf).tensors.get('w')!);
  assert.deepEqual([...(t.data as Float32Array)], [1, -2, 0.15625]);
});

test('safetensors: truncated and lying files are clear errors, never large allocations', async () => {
  const good = serializeSafetensors(sample());
  const E = (buf: Uint8Array, re: RegExp) => assert.throws(() => parseSafetensors(buf, 'f'), re);
  E(good.subarray(0, 5), /shorter than the 8-byte header length/);
  E(good.subarray(0, 20), /header length \d+ is past the end of the file/);
  E(good.subarray(0, good.length - 3), /past the data section|cover/);
  E(craft({}, 0, 2n ** 62n), /exceeds/);
  E(craft({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }, 8), /needs 16 bytes but data_offsets span 8/);
  E(craft({ x: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 4] } }, 4), /needs/);
  E(craft({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /past the data section/);
  E(craft({ x: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, 8), /unknown dtype/);
  E(craft({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /non-negative integers/);
  E(craft({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /starts at 4, expected 0/);
  E(
    craft(
      { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
      8,
    ),
    /hole or overlap/,
  );
  E(craft({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 12), /cover 4 bytes but the data section has 12/);
  E(craft({ __metadata__: { a: 1 } }, 0), /__metadata__.a is not a string/);
  const bad = craft({}, 0);
  bad[8] = 0xff;
  E(bad, /not valid UTF-8 JSON/);
  // The same checks guard files read from disk: a header length past the file end never allocates.
  const dir = await mkdtemp(join(tmpdir(), 'st-'));
  try {
    const p = join(dir, 'lying.safetensors');
    await writeFile(p, craft({}, 0, 50_000_000n));
    await assert.rejects(readSafetensors(p), /header length 50000000 is past the end of the file/);
  } finally {
    await rm(dir, { recursive: true });
  }
});
