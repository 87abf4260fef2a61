// A user's regex extractor that would backtrack for ever is rejected before it runs (in the workflow,
// naming the JSON path), and matching is time-limited where it runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extract, ExtractorError, REGEX_TIME_LIMIT_MS, timedMatch } from '../../method/extract';
import { regexProblem } from '../../schemas/regex-safety';
import { extractorIssues } from '../../workflows/validate';

const REJECTED: [string, RegExp][] = [
  ['(a+)+$', /repeated group holds a quantifier/],
  ['(a*)*b', /repeated group holds a quantifier/],
  ['(a|aa)+$', /repeated group holds a quantifier or an alternation/],
  ['(\\w+\\s?)*$', /repeated group/],
  ['^(([a-z])+.)+[A-Z]([a-z])+$', /repeated group/],
  ['(?:x+x+)+y', /repeated group/],
  ['(a?){25}a{25}', /repeated group/],
  ['((ab)*)+', /repeated group/],
  ['(?<n>a+)+', /repeated group/],
  ['(a+){2,}', /repeated group/],
  ['(.*a){12}', /repeated group/],
  ['(\\d)\\1', /backreferences/],
  ['(?<d>\\d)\\k<d>', /backreferences/],
  ['(unclosed', /not a valid regular expression/],
  ['a{2,1}', /not a valid regular expression/],
  ['x'.repeat(1001), /more than 1000 characters/],
];
const ACCEPTED = [
  'answer: (\\d+)',
  '\\\\boxed\\{([^}]*)\\}',
  '(?:final|answer)\\s*[:=]\\s*(-?\\d+(?:\\.\\d+)?)',
  '([A-E])\\)',
  '[(+*)]+',
  '\\(a+\\)+',
  '(ab)+',
  '(a|b)?c',
  '(?=x)(\\w+)',
  '(a+)?',
  '(a+){1}',
];

test('regexProblem refuses patterns that can backtrack without bound, and only those', () => {
  for (const [p, why] of REJECTED) assert.match(regexProblem(p) ?? 'accepted', why, p);
  for (const p of ACCEPTED) assert.equal(regexProblem(p), undefined, p);
});

test('a rejected pattern fails the evaluate input naming its JSON path and rule', () => {
  const issues = extractorIssues([
    { extractor: { kind: 'boxed', choices: 'ABCDE' } },
    { extractor: { kind: 'regex', pattern: '(a+)+$', choices: 'ABCDE' } },
    { extractor: { kind: 'regex', choices: 'ABCDE' } },
  ]);
  assert.deepEqual(
    issues.map((i) => [i.path, i.rule]),
    [
      ['$.benchmarks[1].extractor.pattern', 'safeRegex'],
      ['$.benchmarks[2].extractor.pattern', 'required'],
    ],
  );
});

test('matching is time-limited: a slow pattern that passes the check is stopped, the worker keeps going', () => {
  // polynomial, not exponential: passes the check, but O(n^4) on a long completion
  const slow = 'a*a*a*a*b';
  assert.equal(regexProblem(slow), undefined);
  const started = Date.now();
  assert.throws(
    () => timedMatch(slow, 's', 'a'.repeat(20_000)),
    (e: unknown) =>
      e instanceof ExtractorError && /ran for more than 250 ms on a text of 20000 characters/.test(e.message),
  );
  assert.ok(Date.now() - started < REGEX_TIME_LIMIT_MS * 8, `stopped after ${Date.now() - started} ms`);
  // and an unsafe pattern given straight to the extractor is refused, not run
  assert.throws(() => extract('aaaa', { kind: 'regex', pattern: '(a+)+$', choices: '' }, 'strict'), ExtractorError);
  // ordinary patterns work as before, with their first group
  assert.equal(
    extract('so the answer: 42.', { kind: 'regex', pattern: 'answer: (\\d+)', choices: '' }, 'strict'),
    '42',
  );
  assert.equal(extract('ANSWER: x', { kind: 'regex', pattern: 'answer: (\\w)', choices: '' }, 'lenient'), 'x');
});

test('choice letters cannot change the character class', () => {
  assert.equal(extract('pick (B)', { kind: 'choice', choices: 'AB]|.*' }, 'strict'), 'B');
});
