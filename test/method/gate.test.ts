import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkEquations } from '../../method/equations';
import { gate, judgePasses, passRates } from '../../method/gate';
import { compareSteps, parseSolution, parseStep, stepKey, type ParsedStep } from '../../method/steps';
import { schemas } from '../../schemas';
import { FOREIGN, OWN, render, STYLES } from '../../world/styles';
import type { Step, Trace } from '../../world/trace';
import { distinct, makeWorld } from '../../world/world';

const WORLD_GATE = { extractor: { kind: 'boxed' as const }, checks: ['answer' as const, 'steps' as const] };
const ALL = { checks: ['answer' as const, 'equations' as const, 'steps' as const] };

/** The world's step as the parser's step: the parser must read back exactly what the world wrote. */
function expected(s: Step): ParsedStep {
  switch (s.op) {
    case 'spell':
      return { op: 'spell', word: s.word, letters: s.word };
    case 'reverse':
      return { op: 'reverse', letters: [...s.word].reverse().join('') };
    default:
      return s;
  }
}

const world = makeWorld(0);
const problems = [...world.prior, world.rewriteOnly, world.downstream].flatMap((f) => distinct(f, 'train', 40, 7));

test('the parser reads every style of the world back into the same steps, for every family', () => {
  for (const p of problems) {
    const want = p.trace.steps.map(expected);
    for (const style of STYLES) {
      const text = render(p.trace, style);
      const got = parseSolution(text);
      assert.deepEqual(got.unparsed, [], `${style.name}: ${text}`);
      assert.ok(got.answerLine, `${style.name}: ${text}`);
      assert.ok(compareSteps(got.steps, want).equal, `${style.name}: ${text}`);
      // and the world's own references pass every check against themselves in any other style
      const v = gate(text, render(p.trace, FOREIGN), ALL);
      assert.ok(v.pass, `${style.name}: ${text}: ${v.reasons.join('; ')}`);
    }
  }
});

test('steps: commutative operands in either order; the order of the other operands matters', () => {
  assert.equal(stepKey(parseStep('3 + 8 = 11')!), stepKey(parseStep('8 + 3 = 11')!));
  assert.equal(stepKey(parseStep('max(9, 4) = 9')!), stepKey(parseStep('the larger of 4 and 9 is 9')!));
  assert.equal(stepKey(parseStep('2 * 5 = 10')!), stepKey(parseStep('5 times 2 is 10')!));
  assert.notEqual(stepKey(parseStep('9 - 4 = 5')!), stepKey(parseStep('4 - 9 = 5')!));
  assert.equal(parseStep('3 + 8 = 11 apples'), undefined);
  assert.equal(parseStep('Zorbi has 3 cats')?.op, 'recall');
  assert.equal(parseStep('abc has a 1 times')?.op, 'count');
});

// A downstream problem: Tavo has 3 + 8 coins, Mira 9 - 4; who has more.
const shop: Trace = {
  steps: [
    { op: 'add', a: 3, b: 8, c: 11 },
    { op: 'sub', a: 9, b: 4, c: 5 },
    { op: 'max', a: 11, b: 5, c: 11 },
  ],
  independent: [[0, 1]],
  answer: '11',
};
const reference = render(shop, FOREIGN); // "9 - 4 = 5; 3 + 8 = 11; max(11, 5) = 11.\n\boxed{11}"
const own = render(shop, OWN); // "3 + 8 = 11\n9 - 4 = 5\nmax(11, 5) = 11\n\boxed{11}"

test('a correct rewrite in the own style of a foreign reference passes every check', () => {
  assert.equal(reference, '9 - 4 = 5; 3 + 8 = 11; max(11, 5) = 11.\n\\boxed{11}');
  const v = gate(own, reference, WORLD_GATE);
  assert.deepEqual(v, { answer: true, steps: true, pass: true, reasons: [] });
  assert.equal(gate(own, reference, ALL).pass, true);
});

test('a dropped step fails the steps check, not the answer', () => {
  const v = gate('3 + 8 = 11\nmax(11, 5) = 11\n\\boxed{11}', reference, WORLD_GATE);
  assert.equal(v.answer, true);
  assert.equal(v.steps, false);
  assert.equal(v.pass, false);
  assert.match(v.reasons.join(), /missing sub 9 4 5/);
});

test('a reordered but complete set of steps passes (commutative operands swapped too)', () => {
  const v = gate('9 - 4 = 5\n8 + 3 = 11\nmax(5, 11) = 11\n\\boxed{11}', reference, WORLD_GATE);
  assert.equal(v.pass, true, v.reasons.join());
});

test('a step in words is the same step: a correct one passes, a wrong one fails', () => {
  // The gate checks that a rewrite is right throughout; its style is the alignment reward's business.
  const words = '3 plus 8 is 11\n9 - 4 = 5\nmax(11, 5) = 11\n\\boxed{11}';
  assert.equal(gate(words, reference, WORLD_GATE).pass, true);
  assert.equal(gate(words, reference, ALL).pass, true);
  const wrong = '3 plus 8 is 12\n9 - 4 = 5\nmax(11, 5) = 11\n\\boxed{11}';
  const v = gate(wrong, reference, ALL);
  assert.deepEqual([v.answer, v.equations, v.steps, v.pass], [true, false, false, false]);
});

test('a false equation fails the equations and the steps checks, with the right box', () => {
  const v = gate('3 + 8 = 11\n9 - 4 = 8\nmax(11, 5) = 11\n\\boxed{11}', reference, ALL);
  assert.deepEqual([v.answer, v.equations, v.steps, v.pass], [true, false, false, false]);
  assert.match(v.reasons.join('\n'), /equations: false: 9 - 4 = 8/);
  assert.equal(passRates([v]).answerPassRate, 1);
  assert.equal(passRates([v]).fullPassRate, 0);
});

test('an unparseable line fails the steps check; so does text after the answer line', () => {
  const v = gate('3 + 8 = 11\nso Tavo has more\n9 - 4 = 5\nmax(11, 5) = 11\n\\boxed{11}', reference, ALL);
  assert.deepEqual([v.answer, v.equations, v.steps], [true, true, false]);
  assert.match(v.reasons.join(), /line 2 is not steps/);
  assert.equal(gate(own + '\nthanks', reference, WORLD_GATE).steps, false);
  assert.equal(gate('3 + 8 = 11; 9 - 4 = 5; max(11, 5) = 11 \\boxed{11}', reference, WORLD_GATE).steps, false);
  // a duplicated step is not the reference's multiset either
  assert.equal(gate('3 + 8 = 11\n' + own, reference, WORLD_GATE).steps, false);
});

test('the answer check: strict extraction of the last box; answer-only and full pass side by side', () => {
  // the steps are the reference's, the box is not: the answer check fails the rewrite alone
  const v = gate('3 + 8 = 11\n9 - 4 = 5\nmax(11, 5) = 11\n\\boxed{5}', reference, WORLD_GATE);
  assert.deepEqual([v.answer, v.steps, v.pass], [false, true, false]);
  assert.equal(gate(own.replace('\\boxed{11}', '\\boxed{11.0}'), reference).answer, false);
  assert.equal(gate('11', reference).answer, false);
  assert.deepEqual(passRates([gate(own, reference), v]), { answerPassRate: 0.5, fullPassRate: 0.5 });
  assert.deepEqual(passRates([]), { answerPassRate: 0, fullPassRate: 0 });
});

test('the judge: its verdict is given by the caller and combined; required when turned on', () => {
  const config = { checks: ['answer' as const, 'judge' as const] };
  assert.equal(gate(own, reference, config, true).pass, true);
  const no = gate(own, reference, config, judgePasses(0.4, 0.6));
  assert.deepEqual([no.answer, no.judge, no.pass], [true, false, false]);
  assert.equal(judgePasses(0.5, 0.5), true);
  assert.throws(() => gate(own, reference, config), /no judge verdict/);
});

test('equations anywhere in free text: chains, precedence, words, max/min; variables left alone', () => {
  const holds = (t: string) => checkEquations(t).failed.length === 0;
  assert.deepEqual(checkEquations('The boxes hold 2 x 3 = 6 stamps. Together: 28 + 6 = 34.'), {
    checked: 2,
    failed: [],
  });
  assert.deepEqual(checkEquations('so 3 - 2 = 8, and max(4, 9) = 4').failed, ['3 - 2 = 8', 'max(4, 9) = 4']);
  assert.ok(holds('2 + 3 * 4 = 14 and 2 + 3 + 4 = 9 = 18 / 2'));
  assert.ok(!holds('2 + 3 * 4 = 20'));
  assert.ok(!holds('2 + 3 = 5 = 6'));
  assert.ok(holds('7 / 2 = 3.5, 10 / 3 = 3.33, 12-7=5, 5 + -3 = 2'));
  assert.ok(!holds('10 / 3 = 3'));
  assert.ok(!holds('1 / 0 = 0'));
  assert.ok(holds('First, 3 + 4 = 7\nThen, the smaller of 7 and 2 is 2\n- 1 + 1 = 2'));
  assert.ok(!holds('First, 3 + 4 = 8'));
  assert.ok(!holds('the larger of 7 and 2 is 2'));
  assert.ok(!holds('6 times 7 is 41'));
  // part of an expression the scanner cannot read: x + 2 + 3 = 5, (1 + 2) * 3 = 9, 3 + 4 = 7y
  assert.equal(checkEquations('x + 2 + 3 = 5; (1 + 2) * 3 = 9; 3 + 4 = 7y').checked, 0);
  assert.equal(checkEquations('count(a, banana) = 3; Zorbi.cats = 4; abc = a b c').checked, 0);
  assert.deepEqual(checkEquations(''), { checked: 0, failed: [] });
});

test('the gate config schema: defaults, the answer check always on, unknown checks rejected', () => {
  assert.deepEqual(schemas.gateConfig.parse({}), {
    extractor: { kind: 'boxed', choices: 'ABCDE' },
    checks: ['answer'],
  });
  assert.deepEqual(schemas.gateConfig.parse(WORLD_GATE).checks, WORLD_GATE.checks);
  assert.equal(schemas.gateConfig.check({ checks: ['steps'] }).ok, false);
  assert.equal(schemas.gateConfig.check({ checks: ['answer', 'answer'] }).ok, false);
  const bad = schemas.gateConfig.check({ checks: ['answer', 'style'] });
  assert.ok(!bad.ok && bad.issues.some((i) => i.path === '$.checks[1]'));
});
