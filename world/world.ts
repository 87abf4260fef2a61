// The embedded default world: prior task families written in the own style (the backbone's
// "prior distribution", which includes a rewriting skill), a downstream family whose references are in
// the foreign style, and held-out benchmarks of the prior families.
import { createHash } from 'node:crypto';
import { fill, qaPrompt, WORLD_REWRITE_INSTRUCTION } from '../method/prompts';
import { arithmetic } from './families/arithmetic';
import { Rng, type Family } from './families/common';
import { comparison } from './families/comparison';
import { counting } from './families/counting';
import { factBase, factsFamily, type Entity } from './families/facts';
import { shopFamily } from './families/shop';
import { storiesFamily } from './families/stories';
import { strings } from './families/strings';
import { FOREIGN, ONE_STEP_STYLES, OWN, render, TWO_STEP_STYLES, type Style } from './styles';
import type { Problem } from './trace';

export type Split = 'train' | 'test';

/** Share of a family's question space held out for its test split, unless the family sets its own. */
export const TEST_SHARE = 0.2;

export interface World {
  seed: number;
  facts: Entity[];
  prior: Family[];
  /** Problem schemas seen only inside rewriting examples (world/families/stories.ts). */
  rewriteOnly: Family;
  downstream: Family;
}

export function makeWorld(seed = 0): World {
  const facts = factBase(seed);
  return {
    seed,
    facts,
    prior: [arithmetic, comparison, strings, counting, factsFamily(facts)],
    rewriteOnly: storiesFamily(facts),
    downstream: shopFamily(facts),
  };
}

/** Train and test never share a question: a hash of the question text decides its split. */
export function splitOf(question: string, trainOnly = false, testShare = TEST_SHARE): Split {
  if (trainOnly) return 'train';
  const h = createHash('sha256').update(question).digest();
  return h.readUInt32BE(0) / 2 ** 32 < testShare ? 'test' : 'train';
}

/** Draws problems of one family and split until `rng` gives one of the split. */
export function sample(family: Family, split: Split, rng: Rng): Problem {
  for (;;) {
    const p = family.make(rng);
    if (splitOf(p.question, p.trainOnly, family.testShare) === split) {
      return {
        id: createHash('sha256').update(`${family.name}\0${p.question}`).digest('hex').slice(0, 16),
        family: family.name,
        question: p.question,
        trace: p.trace,
      };
    }
  }
}

/**
 * `n` distinct problems of a family's split, deterministically from the seed; questions in `exclude`
 * are skipped as if drawn twice (without it, the draw is what it always was).
 */
export function distinct(
  family: Family,
  split: Split,
  n: number,
  seed: number,
  exclude?: ReadonlySet<string>,
): Problem[] {
  const rng = new Rng(seed);
  const seen = new Set<string>();
  const out: Problem[] = [];
  let tries = 0;
  while (out.length < n) {
    if (++tries > n * 50)
      throw new Error(`${family.name}/${split}: cannot find ${n} distinct problems (found ${out.length})`);
    const p = sample(family, split, rng);
    if (seen.has(p.question) || exclude?.has(p.question)) continue;
    seen.add(p.question);
    out.push(p);
  }
  return out;
}

/** A training text: the QA prompt and the solution in a style. */
export function qaText(p: Problem, style: Style = OWN): { prompt: string; completion: string } {
  return { prompt: qaPrompt(p.question), completion: render(p.trace, style) };
}

/** The rewriting request (the "question" put in the QA prompt) holding a problem and a solution. */
export function rewriteQuestion(question: string, solution: string): string {
  return fill(WORLD_REWRITE_INSTRUCTION, { question, answer: solution });
}

/** The rewriting prompt the RL rewriter and the SDFT-style baseline use. */
export function rewritePrompt(question: string, solution: string): string {
  return qaPrompt(rewriteQuestion(question, solution));
}

/** Share of the rewriting inputs written two steps from the own style (never the foreign pair). */
export const TWO_STEP_SHARE = 0.4;

/**
 * One example of the prior's rewriting skill: a solution in a one-step style (or, with TWO_STEP_SHARE,
 * a two-step style other than the foreign combination), answered in the own style.
 */
export function rewriteExample(p: Problem, rng: Rng): { question: string; answer: string; style: string } {
  const styles = rng.float() < TWO_STEP_SHARE ? TWO_STEP_STYLES : ONE_STEP_STYLES;
  const style = styles[rng.int(styles.length)];
  return {
    question: rewriteQuestion(p.question, render(p.trace, style)),
    answer: render(p.trace, OWN),
    style: style.name,
  };
}

/** A pretraining record: the QA prompt is made from `question`, and `answer` is trained on. */
export interface PretrainItem {
  family: string;
  question: string;
  answer: string;
}

/**
 * Relative pretraining shares of the prior families: comparisons are mastered first, counting letters
 * and differences last, so these get the larger shares; reversing a word generalizes on some backbone
 * seeds and stays near half on others at a share of 0.4, so strings get more than comparisons.
 */
export const PRETRAIN_WEIGHTS: Record<string, number> = {
  arithmetic: 1.5,
  comparison: 0.5,
  strings: 0.7,
  counting: 1.6,
  facts: 1.3,
};

/** Share of the rewriting examples whose problem is a story (world.rewriteOnly) rather than a prior problem. */
export const STORY_REWRITE_SHARE = 0.7;

/**
 * Share of rewriting examples in the pretraining stream. At 1/6 (about 3,500 composed stories) the
 * backbone copied a composed story's steps in 25-33% of greedy rewrites and a shop solution's in 2-3%:
 * it had not learned to copy steps it cannot solve, so the stream holds about twice as many.
 */
export const REWRITE_SHARE = 0.35;

function pickWeighted(families: Family[], rng: Rng): Family {
  const weights = families.map((f) => PRETRAIN_WEIGHTS[f.name] ?? 1);
  let r = rng.float() * weights.reduce((a, b) => a + b, 0);
  for (const [i, w] of weights.entries()) if ((r -= w) < 0) return families[i];
  return families[families.length - 1];
}

/**
 * The pretraining stream: the prior families in the own style, and the rewriting skill, mixed with
 * `rewriteShare`. The foreign style never appears after "Answer:", and the stories only in rewriting.
 */
export function pretrainItem(world: World, rng: Rng, rewriteShare = REWRITE_SHARE): PretrainItem {
  if (rng.float() < rewriteShare) {
    const family = rng.float() < STORY_REWRITE_SHARE ? world.rewriteOnly : pickWeighted(world.prior, rng);
    const ex = rewriteExample(sample(family, 'train', rng), rng);
    return { family: 'rewrite', question: ex.question, answer: ex.answer };
  }
  const family = pickWeighted(world.prior, rng);
  const p = sample(family, 'train', rng);
  return { family: family.name, question: p.question, answer: render(p.trace, OWN) };
}

export { FOREIGN, OWN };

/** Pretraining item `index` of the stream with this seed: random access, so a resumed run continues exactly. */
export function pretrainItemAt(world: World, seed: number, index: number, rewriteShare = REWRITE_SHARE): PretrainItem {
  const h = createHash('sha256').update(`pretrain\0${seed}\0${index}`).digest();
  return pretrainItem(world, new Rng(h.readUInt32LE(0)), rewriteShare);
}
