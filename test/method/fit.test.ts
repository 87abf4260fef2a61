import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fit } from '../../method/fit';

test('fit: the least-squares line through points, a flat one when every x is the same', () => {
  assert.deepEqual(
    fit([
      { x: 0, y: 1 },
      { x: 1, y: 3 },
    ]),
    { a: 1, b: 2 },
  );
  const { a, b } = fit([
    { x: 0, y: 0 },
    { x: 1, y: 1 },
    { x: 2, y: 5 },
  ]);
  assert.ok(Math.abs(b - 2.5) < 1e-12 && Math.abs(a + 0.5) < 1e-12, `${a} + ${b} x`);
  assert.deepEqual(
    fit([
      { x: 1, y: 2 },
      { x: 1, y: 4 },
    ]),
    { a: 3, b: 0 },
  );
});
