import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../engine/rng';
import { extract } from '../../method/extract';
import { fill, qaPrompt, WORLD_REWRITE_PROMPT } from '../../method/prompts';
import {
  FOREIGN,
  ONE_STEP_STYLES,
  OWN,
  render,
  STYLES,
  styleByName,
  TWO_STEP_STYLES,
  type Style,
} from '../../world/styles';
import type { Trace } from '../../world/trace';
import { distinct, makeWorld, pretrainItem, rewriteExample, sample } from '../../world/world';
import { STORY_VERBS } from '../../world/families/stories';

const trace: Trace = {
  steps: [
    { op: 'add', a: 12, b: 7, c: 19 },
    { op: 'add', a: 30, b: 5, c: 35 },
    { op: 'max', a: 19, b: 35, c: 35 },
  ],
  independent: [[0, 1]],
  answer: '35',
};

test('the own style: terse steps in symbols, one per line, then the boxed answer', () => {
  assert.equal(render(trace, OWN), '12 + 7 = 19\n30 + 5 = 35\nmax(19, 35) = 35\n\\boxed{35}');
});

test('the foreign style combines several differences; every style keeps the boxed answer', () => {
  assert.equal(render(trace, FOREIGN), '30 + 5 = 35; 12 + 7 = 19; max(19, 35) = 35.\n\\boxed{35}');
  for (const style of STYLES)
    assert.equal(extract(render(trace, style), { kind: 'boxed' }, 'strict'), '35', style.name);
});

test('each prior style differs from the own style in exactly one dimension; the foreign style in more', () => {
  const dims = (s: Style) => (['vocabulary', 'order', 'layout', 'verbosity'] as const).filter((k) => s[k] !== OWN[k]);
  for (const s of ONE_STEP_STYLES) assert.equal(dims(s).length, 1, s.name);
  assert.ok(dims(FOREIGN).length >= 2);
  assert.ok(!ONE_STEP_STYLES.some((s) => dims(s).join() === dims(FOREIGN).join()));
  // the rewriting inputs two steps away: every pair of dimensions but the foreign one
  for (const s of TWO_STEP_STYLES) assert.equal(dims(s).length, 2, s.name);
  assert.equal(TWO_STEP_STYLES.length, 8);
  const renders = (s: Style) => render(trace, s);
  assert.ok(!TWO_STEP_STYLES.some((s) => renders(s) === renders(FOREIGN)));
  assert.equal(new Set(STYLES.map((s) => s.name)).size, STYLES.length);
});

test('families are seeded; train and test never share a question', () => {
  const world = makeWorld(0);
  for (const family of [...world.prior, world.downstream]) {
    const a = distinct(family, 'test', 200, 1);
    assert.deepEqual(distinct(family, 'test', 200, 1), a, `${family.name} is deterministic`);
    const testQs = new Set(a.map((p) => p.question));
    const rng = new Rng(2);
    for (let i = 0; i < 1000; i++) assert.ok(!testQs.has(sample(family, 'train', rng).question), family.name);
    for (const p of a) assert.equal(extract(render(p.trace, OWN), { kind: 'boxed' }, 'strict'), p.trace.answer);
  }
});

test('fact queries in the test split are new combinations of facts asked one by one in training', () => {
  const world = makeWorld(0);
  const facts = world.prior.find((f) => f.name === 'facts')!;
  const testQs = distinct(facts, 'test', 300, 1);
  assert.ok(testQs.every((p) => !/^How many cats does|^Where does/.test(p.question)));
  const trainQs = new Set(distinct(facts, 'train', 1500, 2).map((p) => p.question));
  const askedAlone = world.facts.filter((e) => trainQs.has(`How many cats does ${e.name} have?`)).length;
  assert.ok(
    askedAlone > world.facts.length * 0.9,
    `${askedAlone} of ${world.facts.length} cat counts are asked alone in training`,
  );
});

test('pretraining: the own style after "Answer:", rewriting from other styles; never the foreign style', () => {
  const world = makeWorld(0);
  const rng = new Rng(3);
  let rewrites = 0;
  let stories = 0;
  const storyAsked = new RegExp(`^\\w+ (${STORY_VERBS.join('|')}) `);
  for (let i = 0; i < 3000; i++) {
    const item = pretrainItem(world, rng);
    assert.doesNotMatch(item.answer, / plus | minus | times | has \d| lives in |^1\) |First, |; /m, item.answer);
    if (item.family === 'rewrite') {
      rewrites++;
      assert.match(item.question, /^Rewrite this solution in your own words\.\nQuestion: /);
      const question = /\nQuestion: (.*)\n/.exec(item.question)![1];
      if (storyAsked.test(question)) stories++;
    } else assert.doesNotMatch(item.question, storyAsked, 'stories are asked only inside rewriting');
  }
  assert.ok(rewrites > 850 && rewrites < 1250, `${rewrites} rewrite examples of 3000`);
  assert.ok(stories > rewrites * 0.6 && stories < rewrites * 0.8, `${stories} story rewrites of ${rewrites}`);
  const p = distinct(world.downstream, 'train', 1, 0)[0];
  // rewriting inputs come in every one- and two-step style, never in the foreign one
  const inputStyles = new Set<string>();
  for (let i = 0; i < 500; i++) inputStyles.add(rewriteExample(p, rng).style);
  assert.deepEqual([...inputStyles].sort(), [...ONE_STEP_STYLES, ...TWO_STEP_STYLES].map((s) => s.name).sort());
  const ex = rewriteExample(p, new Rng(0));
  assert.equal(ex.answer, render(p.trace, OWN));
  assert.equal(
    qaPrompt(ex.question),
    fill(WORLD_REWRITE_PROMPT, { question: p.question, answer: render(p.trace, styleByName(ex.style)) }),
  );
  assert.ok(qaPrompt(ex.question).length + ex.answer.length < 420);
});
