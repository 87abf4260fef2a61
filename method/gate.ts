// The gate g_i (METHOD.md, "Rewards"): whether a rewrite is consistent with its reference. Components,
// each a dataset can turn on in its gate config (schemas/json/gate-config.schema.json):
//   answer     the final answer, by the extractor under strict extraction, equals the reference's
//              (always on: it is the gate's definition)
//   equations  every arithmetic claim anywhere in the rewrite holds (method/equations.ts), for
//              math-style data in general
//   steps      the world's step check: every line but the final \boxed{} line parses as steps
//              (method/steps.ts), and their multiset equals the reference's steps, whatever style the
//              reference is written in; operands of +, *, max and min in either order
//   judge      pi_0 asked YES/NO, pass iff P(YES) >= P(NO): a device call the caller makes
//              (training/judge.ts), whose verdict is passed in here
// Steps are compared as steps, not as wording: "3 plus 8 is 11" is the step "3 + 8 = 11". The gate
// checks that a rewrite is right throughout, not that it is in the backbone's own style; moving the
// rewrite towards the backbone's distribution is the alignment reward's job (r_dist), so a correct step
// written in words passes, and a wrong one fails like any other wrong step.
import type { GateConfig, GateConfigInput } from '../schemas';
import { checkEquations } from './equations';
import { extract } from './extract';
import { compareSteps, parseSolution } from './steps';

export type GateCheck = GateConfig['checks'][number];

export interface GateVerdict {
  /** The final answer equals the reference's: the answer-only pass. */
  answer: boolean;
  /** Present when the check is on. */
  equations?: boolean;
  steps?: boolean;
  judge?: boolean;
  /** Every check of the config passes: the full pass. */
  pass: boolean;
  /** Why each failing check failed, one line each. */
  reasons: string[];
}

const DEFAULTS: GateConfigInput & Required<Pick<GateConfigInput, 'extractor' | 'checks'>> = {
  extractor: { kind: 'boxed' },
  checks: ['answer'],
};

/**
 * The judge's verdict on one candidate, as the device call that asked the backbone reports it: the two
 * probabilities it read and, when it could not ask (the prompt does not fit the model), why not.
 */
export interface JudgeVerdict {
  pass: boolean;
  pYes: number | null;
  pNo: number | null;
  /** Why the judge gave no probabilities; the candidate fails. */
  note?: string;
}

/** Whether a gate config turns the judge on (its caller then asks the backbone, training/judge.ts). */
export const judgeOn = (config: GateConfigInput | undefined): boolean => config?.checks?.includes('judge') ?? false;

/** P(YES) >= P(NO): the judge's verdict from its two probabilities. */
export function judgePasses(pYes: number, pNo: number): boolean {
  return pYes >= pNo;
}

/**
 * The gate's verdict on one candidate against its reference y*. `judge` is the judge's verdict, required
 * when the config turns the judge on (the gate itself runs no model).
 */
export function gate(
  candidate: string,
  reference: string,
  config: GateConfigInput = DEFAULTS,
  judge?: boolean | JudgeVerdict,
): GateVerdict {
  const extractor = config.extractor ?? DEFAULTS.extractor;
  const checks = new Set(config.checks ?? DEFAULTS.checks);
  const reasons: string[] = [];
  const gold = extract(reference, extractor, 'strict');
  const got = extract(candidate, extractor, 'strict');
  const answer = gold !== undefined && got === gold;
  if (gold === undefined) reasons.push('answer: the reference has no answer in the required form');
  else if (got === undefined) reasons.push('answer: no answer in the required form');
  else if (!answer) reasons.push(`answer: ${JSON.stringify(got)} is not ${JSON.stringify(gold)}`);
  const verdict: GateVerdict = { answer, pass: false, reasons };
  if (checks.has('equations')) {
    const r = checkEquations(candidate);
    verdict.equations = r.failed.length === 0;
    if (!verdict.equations) reasons.push(`equations: false: ${r.failed.join(' | ')}`);
  }
  if (checks.has('steps')) verdict.steps = stepsHold(candidate, reference, reasons);
  if (checks.has('judge')) {
    if (judge === undefined) throw new Error('gate: the config turns the judge on, but no judge verdict was given');
    const j = typeof judge === 'boolean' ? { pass: judge, pYes: null, pNo: null } : judge;
    verdict.judge = j.pass;
    if (!j.pass)
      reasons.push(
        j.note !== undefined
          ? `judge: ${j.note}`
          : j.pYes !== null && j.pNo !== null
            ? `judge: NO (P(YES) ${j.pYes.toPrecision(3)} < P(NO) ${j.pNo.toPrecision(3)})`
            : 'judge: NO',
      );
  }
  verdict.pass = answer && verdict.equations !== false && verdict.steps !== false && verdict.judge !== false;
  return verdict;
}

function stepsHold(candidate: string, reference: string, reasons: string[]): boolean {
  const want = parseSolution(reference);
  if (want.unparsed.length > 0) {
    reasons.push(`steps: the reference's line ${want.unparsed[0].line} is not steps: ${want.unparsed[0].text}`);
    return false;
  }
  const got = parseSolution(candidate);
  if (got.unparsed.length > 0) {
    reasons.push(`steps: line ${got.unparsed[0].line} is not steps: ${JSON.stringify(got.unparsed[0].text)}`);
    return false;
  }
  if (!got.answerLine) {
    reasons.push('steps: the last line is not the \\boxed{} answer line');
    return false;
  }
  const diff = compareSteps(got.steps, want.steps);
  if (!diff.equal) {
    const parts = [
      ...(diff.missing.length ? [`missing ${diff.missing.join(', ')}`] : []),
      ...(diff.extra.length ? [`not in the reference ${diff.extra.join(', ')}`] : []),
    ];
    reasons.push(`steps: ${parts.join('; ')}`);
  }
  return diff.equal;
}

/** Answer-only and full pass rates of a list of verdicts, side by side. */
export function passRates(verdicts: GateVerdict[]): { answerPassRate: number; fullPassRate: number } {
  const n = verdicts.length;
  return {
    answerPassRate: n ? verdicts.filter((v) => v.answer).length / n : 0,
    fullPassRate: n ? verdicts.filter((v) => v.pass).length / n : 0,
  };
}
