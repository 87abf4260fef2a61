import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoWriter } from '../../engine/onnx';

const hex = (w: ProtoWriter) => Buffer.from(w.finish()).toString('hex');

test('protobuf writer: varints (small, multi-byte, 2^53, negative as 10-byte two complement)', () => {
  const cases: [number | bigint, string][] = [
    [0, '0800'],
    [1, '0801'],
    [300, '08ac02'],
    [2 ** 31, '088080808008'],
    [2 ** 53, '088080808080808010'],
    [-1, '08ffffffffffffffffff01'],
    [-2n, '08feffffffffffffffff01'],
  ];
  for (const [v, want] of cases) {
    const w = new ProtoWriter();
    w.int(1, v);
    assert.equal(hex(w), want, `varint ${v}`);
  }
});

test('protobuf writer: strings, floats, packed ints and nested messages keep field order and lengths', () => {
  const inner = new ProtoWriter();
  inner.string(1, 'ab');
  const w = new ProtoWriter();
  w.message(7, inner);
  w.float(2, 1.5);
  w.packedInts(8, [1, 300]);
  assert.equal(hex(w), '3a04' + '0a026162' + '150000c03f' + '4203' + '01ac02');
  assert.equal(w.length, w.finish().length);
});
