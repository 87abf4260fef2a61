import { ApplicationFailure, defineQuery, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RewriteDatasetInputInput } from '../activities';
import {
  schemas,
  type BenchmarkSpec,
  type ModelRef,
  type PipelineConfig,
  type PipelineConfigInput,
  type PipelineOutput,
  type SchemaIssue,
  type ScoreDatasetOutput,
  type TrainRewriterInput,
  type WorldOutput,
} from '../schemas/workflow';
import { resolveRewriterSettings } from '../schemas/rewriter-presets';
import {
  ABLATIONS,
  armNote,
  isWorldOnly,
  matchedK,
  oracleShare,
  resolveArms,
  rewriterOf,
  type ArmName,
} from './pipeline-arms';
import { Stages, type PipelineProgress } from './pipeline-progress';
import { child, cpuActivities, deviceActivities, evaluateChild, sftChild } from './stages';
import type { pretrain } from './pretrain';
import type { trainRewriter, TrainRewriterOutput } from './train-rewriter';
import { invalidInput, validateInput } from './validate';
import { trainingSet } from './world-stage';

export type { PipelineOutput };
export type PipelineArm = PipelineOutput['arms'][number];
/** An arm's SFT data: what every arm has, fine-tuned or not. */
export type PipelineArmData = Pick<PipelineArm, 'arm' | 'seed' | 'builder' | 'k' | 'data' | 'note'>;
/** An arm whose SFT set is empty (fallback 'drop' left out every record): not scored, fine-tuned or evaluated. */
export type EmptyArm = NonNullable<PipelineOutput['empty']>[number];

export const pipelineProgress = defineQuery<PipelineProgress>('progress');

const { armData, forgettingReport, pipelineReport } = cpuActivities('report');

/**
 * The main job: the comparison of the paper as one durable run. The backbone (the world's, pretrained
 * or shipped, or a model folder in the store) → the trainRewriter runs the arms need (children) →
 * every arm's dataset under one gate and one fallback → each scored under the backbone → an SFT child
 * per arm per seed → evaluation of the base and every arm → a report per seed. Each arm of each seed
 * is one chain and all chains start together; the device worker runs one activity at a time. Every
 * stage is content-addressed, so starting the same input again reuses all that finished.
 */
export async function pipeline(input: PipelineConfigInput): Promise<PipelineOutput> {
  const resolved = validateInput(schemas.pipelineConfig, input, 'pipeline');
  const id = workflowInfo().workflowId;
  const inWorld = resolved.backbone === undefined;
  // runs started before the default arms held the oracle mixtures replay with the defaults they had
  const arms = resolveArms(resolved.arms, inWorld, patched('dose-response-arms'));
  checkSetting(resolved, arms);
  const rewriterInput = rewriterConfig(input, resolved);
  const settings = resolveRewriterSettings(rewriterInput);
  const device = deviceActivities(resolved.device, 'batch');
  const { seeds } = resolved;

  const stages = new Stages();
  setHandler(pipelineProgress, () => stages.progress());
  const rewriterArms = [...new Set(arms.map(rewriterOf).filter((r) => r !== undefined))];
  for (const s of seeds) if (inWorld) stages.plan(`world:s${s}`);
  for (const r of rewriterArms) stages.plan(`rewriter:${r}`);
  stages.plan('evaluate:base');
  for (const s of seeds)
    for (const arm of arms)
      for (const kind of ['data', 'score', 'sft', 'evaluate']) stages.plan(`${kind}:${arm}:s${s}`);
  stages.plan('report');

  // the world of each data seed (the same backbone and benchmarks; another downstream sample)
  const worlds = new Map<number, Promise<{ world?: WorldOutput; backbone: ModelRef }>>(
    seeds.map((s) => [
      s,
      inWorld
        ? stages.run(`world:s${s}`, () =>
            child<typeof pretrain>('pretrain', id, s === 0 ? 'pretrain' : `pretrain-data${s}`, {
              recipe: resolved.recipe,
              device: resolved.device,
              ...(resolved.seed !== undefined ? { seed: resolved.seed } : {}),
              ...(s ? { dataSeed: s } : {}),
            }),
          )
        : Promise.resolve({ backbone: resolved.backbone! }),
    ]),
  );
  const first = await worlds.get(seeds[0])!;
  const backbone = first.backbone;
  if (first.world) checkWorldArms(first.world, resolved);
  const benchmarks: BenchmarkSpec[] = resolved.benchmarks ?? first.world!.benchmarks;
  const downstream = async (s: number) =>
    resolved.dataset ?? trainingSet((await worlds.get(s)!).world!, resolved.recipe, 'foreign', 'pipeline', '$.dataset');

  // the rewriters train once, on the first seed's downstream data
  const validation = (first.world as { validation?: string } | undefined)?.validation;
  const rewriters = new Map(
    rewriterArms.map((r) => [
      r,
      (async () => {
        const dataset = await downstream(seeds[0]);
        return stages.run(`rewriter:${r}`, () =>
          child<typeof trainRewriter>('trainRewriter', id, r === 'rl' ? 'rewriter' : `rewriter-${r.slice(3)}`, {
            ...rewriterInput,
            ...(r === 'rl' ? {} : ABLATIONS[r]),
            ...(r === 'rl' ? {} : { name: `${rewriterInput.name}-${r.slice(3)}` }),
            backbone,
            dataset,
            ...(validation && !rewriterInput.validation?.dataset
              ? { validation: { ...rewriterInput.validation, dataset: validation } }
              : {}),
          }),
        );
      })(),
    ]),
  );

  const k = resolved.rewrite.samples;
  const rewriteBase = (s: number, dataset: string): Omit<RewriteDatasetInputInput, 'model'> => ({
    dataset,
    gate: settings.gate,
    samples: k,
    temperature: resolved.rewrite.temperature ?? settings.temperature,
    topP: settings.topP,
    maxNewTokens: resolved.rewrite.maxNewTokens ?? settings.maxNewTokens,
    seed: s,
    rewardWeights: { lambdaDist: settings.lambdaDist, lambdaDiv: settings.lambdaDiv },
    ...(settings.rewritePrompt ? { promptFormat: settings.rewritePrompt } : {}),
    ...(settings.qaPrompt ? { qaPrompt: settings.qaPrompt } : {}),
  });
  const withAdapter = (out: TrainRewriterOutput): ModelRef =>
    out.best.adapter ? { uri: backbone.uri, adapter: out.best.adapter } : backbone;

  /** The arm's records as its builder writes them: the file armData turns into the SFT set. */
  async function build(
    arm: ArmName,
    s: number,
  ): Promise<{ file: string; builder?: PipelineArm['builder']; k?: number }> {
    const dataset = await downstream(s);
    const base = rewriteBase(s, dataset);
    const rewrite = async (model: ModelRef, o: Partial<RewriteDatasetInputInput>, samples = k) => {
      const out = await device.rewriteDataset({ ...base, ...o, model, samples, name: `${arm}-s${s}` });
      return { file: out.data, builder: out, k: samples };
    };
    switch (arm) {
      case 'vanilla':
        return { file: dataset };
      case 'prompted':
        return rewrite(backbone, {});
      case 'sdft':
        return rewrite(backbone, { rejectGiveaways: true }, 1);
      case 'self-alignment': {
        const out = await device.selfAlignDataset({
          model: backbone,
          dataset,
          name: `${arm}-s${s}`,
          gate: settings.gate,
          seed: s,
          maxNewTokens: base.maxNewTokens,
          ...(settings.qaPrompt ? { qaPrompt: settings.qaPrompt } : {}),
          ...(settings.rewritePrompt ? { promptFormat: settings.rewritePrompt } : {}),
        });
        return { file: out.data, builder: out, k: 1 };
      }
      case 'prompted-matched': {
        const rl = await rewriters.get('rl')!;
        const records = (await armData({ arm: 'vanilla', data: dataset, fallback: 'original' })).records;
        const rollouts = rl.steps * settings.promptsPerStep * settings.groupSize;
        return rewrite(backbone, {}, matchedK({ rollouts, records, k, cap: resolved.rewrite.matchedCap }));
      }
      default: {
        const r = rewriterOf(arm);
        if (r) return rewrite(withAdapter(await rewriters.get(r)!), {});
        // the world's own-style training set and its mixtures
        return { file: trainingSet((await worlds.get(s)!).world!, resolved.recipe, arm, 'pipeline', '$.arms') };
      }
    }
  }

  const evaluateArm = (name: string, model: ModelRef) =>
    evaluateChild(id, name, { model, benchmarks, device: resolved.device });
  const sftRecipe = inWorld ? { ...first.world!.recipe.sft, ...resolved.sft } : { ...resolved.sft };

  async function chain(arm: ArmName, s: number): Promise<PipelineArm | EmptyArm> {
    const tag = `${arm}:s${s}`;
    const built = await stages.run(`data:${tag}`, async () => {
      const b = await build(arm, s);
      const passAtK = arm === 'rl' || arm === 'prompted' || arm === 'prompted-matched';
      const data = await armData({ arm: `${arm}-s${s}`, data: b.file, fallback: resolved.fallback, passAtK });
      return { ...b, data };
    });
    const note = armNote(arm, inWorld);
    const armSet: PipelineArmData = {
      arm,
      seed: s,
      ...(built.builder ? { builder: built.builder } : {}),
      ...(built.k !== undefined ? { k: built.k } : {}),
      data: built.data,
      ...(note ? { note } : {}),
    };
    // fallback 'drop' with no record passing: nothing to score, fine-tune or evaluate; the other arms go
    // on and the report says so (runs from before this rule replay as they ran: their score failed)
    if (built.data.kept === 0 && patched('empty-arms')) {
      for (const kind of ['score', 'sft', 'evaluate']) stages.skip(`${kind}:${tag}`);
      return { ...armSet, empty: emptyReason(built.data.records) };
    }
    const score = await stages.run(`score:${tag}`, () =>
      // with embeddings: the report's diversity of each arm's data
      device.scoreDataset({ model: backbone, dataset: built.data.dataset, embeddings: true }),
    );
    const trained = await stages.run(`sft:${tag}`, () =>
      sftChild(id, `${arm}-s${s}`, {
        ...sftRecipe,
        name: `sft-${arm}`,
        model: backbone,
        dataset: built.data.dataset,
        seed: s,
        device: resolved.device,
      }),
    );
    const evaluation = await stages.run(`evaluate:${tag}`, () => evaluateArm(`${arm}-s${s}`, trained.model));
    return {
      ...armSet,
      score,
      model: trained.model,
      sft: { uri: trained.uri, steps: trained.steps, reused: trained.reused },
      evaluation,
    };
  }

  const [base, ...chains] = await Promise.all([
    stages.run('evaluate:base', () => evaluateArm('base', backbone)),
    ...seeds.flatMap((s) => arms.map((arm) => chain(arm, s))),
  ]);
  const results = chains.filter((r): r is PipelineArm => !('empty' in r));
  const empty = chains.filter((r): r is EmptyArm => 'empty' in r);
  for (const s of seeds)
    if (!results.some((r) => r.seed === s))
      throw ApplicationFailure.create({
        type: 'EmptyArms',
        nonRetryable: true,
        message: `fallback 'drop' left every arm of seed ${s} without a record (${empty
          .filter((r) => r.seed === s)
          .map((r) => `${r.arm}: ${r.data.records} dropped`)
          .join(', ')}): nothing to fine-tune or compare`,
      });

  const rewriterOut: PipelineOutput['rewriters'] = {};
  for (const [r, p] of rewriters) {
    const o = await p;
    rewriterOut[r] = { run: o.run, steps: o.steps, best: o.best, curves: o.curves, metrics: o.metrics };
  }
  // the dose-response line: the world's arms whose data is y* and its own-style rendering mixed
  const mixtures = inWorld && !resolved.dataset ? doseResponse(arms) : [];
  const label = inWorld ? `world-${resolved.recipe}-seed-${resolved.seed ?? first.world!.recipe.seed}` : 'backbone';
  // runs started before pipelineReport existed replay with a forgetting report per seed
  const reported = patched('pipeline-report')
    ? {
        report: await stages.run('report', async () => {
          const { groups: _g, ...out } = await pipelineReport({
            name: resolved.name,
            fallback: resolved.fallback,
            runs: seeds.map((s) => ({
              seed: s,
              backbone: label,
              base: base.results,
              arms: Object.fromEntries(
                results
                  .filter((r) => r.seed === s)
                  .map((r) => [
                    r.arm,
                    {
                      evaluation: r.evaluation.results,
                      dataset: r.data.dataset,
                      records: r.data.records,
                      score: scoreRef(r.score),
                    },
                  ]),
              ),
              ...(empty.some((r) => r.seed === s)
                ? {
                    empty: Object.fromEntries(
                      empty.filter((r) => r.seed === s).map((r) => [r.arm, { records: r.data.records }]),
                    ),
                  }
                : {}),
            })),
            ...(rewriters.has('rl') ? { rewriter: rewriterInputs(await rewriters.get('rl')!) } : {}),
            ...(mixtures.length >= 2 ? { mixtures } : {}),
            passAtK: chains
              .filter((r) => r.seed === seeds[0] && r.data.passAtK)
              .flatMap((r) => r.data.passAtK!.map((passRate, j) => ({ arm: r.arm, k: j + 1, passRate }))),
          });
          return out;
        }),
      }
    : { reports: await forgettingReports() };
  stages.finish();
  return {
    backbone,
    fallback: resolved.fallback,
    seeds,
    base,
    rewriters: rewriterOut,
    arms: results,
    ...(empty.length ? { empty } : {}),
    ...reported,
  };

  async function forgettingReports(): Promise<NonNullable<PipelineOutput['reports']>> {
    return Promise.all(
      seeds.map((s) =>
        stages.run(`report:s${s}`, async () => {
          const of = results.filter((r) => r.seed === s);
          const report = await forgettingReport({
            name: `${resolved.name}-s${s}`,
            base: base.results,
            arms: Object.fromEntries(of.map((r) => [r.arm, r.evaluation.results])),
            nll: Object.fromEntries(of.map((r) => [r.arm, r.score.meanNll])),
            ...(arms.includes('vanilla') && arms.length > 1 ? { reference: 'vanilla' } : {}),
          });
          const { strict: _s, lenient: _l, ...summary } = report;
          return { ...summary, seed: s };
        }),
      ),
    );
  }
}
/** What the run says of an arm whose SFT set is empty. */
export const emptyReason = (records: number) =>
  `0 records: nothing to fine-tune (fallback 'drop' left out all ${records} records: no candidate passed the gate)`;

/** The world's arms of known oracle share, as the report's mixtures (their NLL and forgetting are the runs'). */
function doseResponse(arms: ArmName[]): { arm: ArmName; oracleShare: number }[] {
  return arms.flatMap((arm) => {
    const share = oracleShare(arm);
    return share === undefined ? [] : [{ arm, oracleShare: share }];
  });
}

/**
 * The rewriter as the report reads it: its metrics (the training and validation curves) and the
 * validations of the first and the best step (pass rate against k on the validation slice, before
 * and after training; every step's would crowd the figure, and the curves already show each).
 */
function rewriterInputs(r: TrainRewriterOutput) {
  const chosen = r.validations.filter((v, i) => i === 0 || v.step === r.best.step);
  return { metrics: r.metrics, validations: [...new Set(chosen.map((v) => v.uri))] };
}

/** A score as the report reads it: by reference, with its summary numbers. */
function scoreRef(s: ScoreDatasetOutput) {
  return {
    uri: s.uri,
    meanNll: s.meanNll,
    tokens: s.tokens,
    records: s.records,
    ...(s.embeddings ? { embeddings: s.embeddings } : {}),
  };
}

/** What the schema cannot say: an own backbone needs its data and benchmarks, and has no oracle. */
function checkSetting(r: PipelineConfig, arms: ArmName[]): void {
  const issues: SchemaIssue[] = [];
  if (r.backbone !== undefined) {
    const need = (field: 'dataset' | 'benchmarks') =>
      r[field] === undefined &&
      issues.push({ path: `$.${field}`, rule: 'required', message: `is required with your own backbone` });
    need('dataset');
    need('benchmarks');
    (r.arms ?? []).forEach((a, i) => {
      if (isWorldOnly(a))
        issues.push({ path: `$.arms[${i}]`, rule: 'world', message: `"${a}" exists only in the embedded world` });
    });
  }
  if (arms.length !== (r.arms ?? arms).length)
    issues.push({ path: '$.arms', rule: 'uniqueItems', message: 'names vanilla twice (foreign is its alias)' });
  if (issues.length) throw invalidInput('pipeline', issues);
}

/** Every world-only arm asked for must be one of the recipe's training sets, before any arm starts. */
function checkWorldArms(world: WorldOutput, r: PipelineConfig): void {
  (r.arms ?? []).forEach((a, i) => {
    if (isWorldOnly(a)) trainingSet(world, r.recipe, a, 'pipeline', `$.arms[${i}]`);
  });
}

/**
 * The trainRewriter config: the user's, with the preset following the recipe when none is given (the
 * test recipe's backbone trains in seconds under the test preset), on the pipeline's device.
 */
function rewriterConfig(raw: PipelineConfigInput, r: PipelineConfig): TrainRewriterInput {
  const given = (raw.rewriter ?? {}) as { preset?: string };
  return {
    ...r.rewriter,
    preset: (given.preset ?? (r.recipe === 'test' ? 'test' : 'world')) as TrainRewriterInput['preset'],
    recipe: r.recipe,
    device: r.device,
    ...(r.seed !== undefined ? { seed: r.seed } : {}),
  };
}
