import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extract, isCorrect, lastBoxed } from '../../method/extract';

test('lastBoxed takes the last box with balanced braces', () => {
  assert.equal(lastBoxed('a \\boxed{1} b \\boxed{\\frac{1}{2}} c'), '\\frac{1}{2}');
  assert.equal(lastBoxed('no box'), undefined);
  assert.equal(lastBoxed('\\boxed{open'), undefined);
});

test('strict needs the exact form; lenient forgives form, never content', () => {
  const boxed = { kind: 'boxed' as const };
  assert.equal(isCorrect('so \\boxed{42}', '42', boxed, 'strict'), true);
  assert.equal(isCorrect('so \\boxed{ 42. }', '42', boxed, 'strict'), false);
  assert.equal(isCorrect('so \\boxed{ 42. }', '42', boxed, 'lenient'), true);
  assert.equal(isCorrect('the answer is 42', '42', boxed, 'strict'), false);
  assert.equal(isCorrect('the answer is 42', '42', boxed, 'lenient'), true);
  assert.equal(isCorrect('\\boxed{43}', '42', boxed, 'lenient'), false);
  assert.equal(isCorrect('\\boxed{Heper}', 'heper', boxed, 'lenient'), true);
  assert.equal(extract('x = 3, then 7.0', { kind: 'last-number' }, 'lenient'), '7');
  assert.equal(extract('I pick (B).', { kind: 'choice', choices: 'ABCD' }, 'strict'), 'B');
  assert.equal(extract('result: {"a": 1}', { kind: 'json' }, 'strict'), '{"a":1}');
  assert.equal(extract('id=xy-9;', { kind: 'regex', pattern: 'id=([a-z]+-\\d)' }, 'strict'), 'xy-9');
});
