// The pipeline end to end on the test recipe (real dev server and workers, a backbone of seconds): every
// arm's dataset under one gate, the rewriter and its three ablations as trainRewriter children, an SFT
// child and an evaluation per arm, the report; then the same input again reuses every stage.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { TASK_QUEUE } from '../workers/settings';
import { schemas, type PipelineConfigInput } from '../schemas';
import type { pipeline, PipelineOutput } from '../workflows/pipeline';
import type { ArmName } from '../workflows/pipeline-arms';
import type { PipelineProgress } from '../workflows/pipeline-progress';
import { workInside } from '../temporal/pipeline-command';
import { failsAsInvalidInput } from './helpers/invalid';
import { assertEveryStageReused } from './helpers/pipeline';
import { useTemporal } from './helpers/temporal';

const t = useTemporal({ device: true });

const ALL_ARMS: ArmName[] = [
  'vanilla',
  'prompted',
  'prompted-matched',
  'sdft',
  'self-alignment',
  'rl',
  'rl-no-dist',
  'rl-no-div',
  'rl-no-gate',
  'oracle',
  'oracle-95',
];
const input: PipelineConfigInput = { recipe: 'test', arms: ALL_ARMS, rewriter: { steps: 2 }, rewrite: { samples: 2 } };

const lines = (store: ArtifactStore, ref: string) =>
  readFileSync(store.resolve(ref), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The input of every scheduled activity of `workflowId` with this type. */
async function activityInputs(workflowId: string, type: string): Promise<Record<string, unknown>[]> {
  const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === type)
    .map((a) => JSON.parse(Buffer.from(a!.input!.payloads![0].data!).toString('utf8')));
}

async function childInput(workflowId: string): Promise<Record<string, unknown>> {
  const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  const started = history.events![0].workflowExecutionStartedEventAttributes!;
  return JSON.parse(Buffer.from(started.input!.payloads![0].data!).toString('utf8'));
}

let first: PipelineOutput;

test('pipeline: every arm built, scored, fine-tuned and evaluated; the rewriter and its ablations as children; a report', async () => {
  const handle = await t.env.client.workflow.start<typeof pipeline>('pipeline', {
    taskQueue: TASK_QUEUE,
    workflowId: 'pipeline',
    args: [input],
  });
  // what runs inside the stages, as `rewrite-rl pipeline` shows it, sampled while the run goes on
  const inside = new Set<string>();
  const result = handle.result();
  let ended = false;
  void result.finally(() => (ended = true)).catch(() => undefined);
  while (!ended) {
    for (const phrase of await workInside(handle).catch(() => [])) inside.add(phrase);
    await new Promise((r) => setTimeout(r, 200));
  }
  const out = (first = await result);
  const seen = [...inside].join('\n');
  assert.match(seen, /^(pretrain|rewriter|sft-|evaluate-)\S* \w+/m, `an activity inside a child workflow:\n${seen}`);
  assert.match(seen, /^\d+ queued$/m, `device work waiting its turn:\n${seen}`);
  // the result is what its schema says: every field of every arm, builder, data and report
  schemas.pipelineOutput.parse(out);
  const store = new ArtifactStore(t.root);
  assert.deepEqual(
    out.arms.map((a) => a.arm),
    ALL_ARMS,
  );
  assert.deepEqual(out.seeds, [0]);
  assert.deepEqual(Object.keys(out.rewriters).sort(), ['rl', 'rl-no-dist', 'rl-no-div', 'rl-no-gate']);
  const arm = (name: string) => out.arms.find((a) => a.arm === name)!;

  // vanilla trains on y*, the oracle on the world's own style: their SFT sets are those sets' records
  const world = (await childInput('pipeline/pretrain')) as { recipe: string };
  assert.equal(world.recipe, 'test');
  const rlRewrites = await activityInputs('pipeline', 'rewriteDataset');
  const downstream = rlRewrites[0].dataset as string;
  assert.match(downstream, /train-foreign\.jsonl$/);
  const qa = (ref: string) => lines(store, ref).map((r) => [r.id, r.question, r.answer]);
  assert.deepEqual(qa(arm('vanilla').data.dataset), qa(downstream));
  assert.deepEqual(qa(arm('oracle').data.dataset), qa(downstream.replace('train-foreign', 'train-oracle')));
  assert.equal(arm('vanilla').data.kept, 32);

  // every arm's SFT set, its score under the backbone and its model and evaluation are its own
  for (const a of out.arms) {
    assert.equal(a.data.records, 32, a.arm);
    assert.equal(a.data.kept + a.data.dropped, 32, a.arm);
    assert.equal(a.score.records, a.data.kept, a.arm);
    assert.ok(a.score.tokens > 0 && a.score.meanNll > 0, a.arm);
    assert.equal(a.evaluation.results.length, 6, a.arm);
    assert.equal(a.data.dropped, 0, `${a.arm}: fallback original keeps every record`);
  }
  assert.equal(new Set(out.arms.map((a) => a.model.uri)).size, ALL_ARMS.length);

  // the k-sample builders: k samples per record, pass@j for j <= k from them, never decreasing
  for (const name of ['prompted', 'rl', 'rl-no-dist', 'rl-no-div', 'rl-no-gate']) assert.equal(arm(name).k, 2, name);
  for (const name of ['prompted', 'rl', 'prompted-matched']) {
    const p = arm(name).data.passAtK!;
    assert.equal(p.length, arm(name).k, name);
    for (let j = 1; j < p.length; j++) assert.ok(p[j] >= p[j - 1] - 1e-12, `${name}: ${p}`);
    const rows = lines(store, (arm(name).builder as { data: string }).data) as { candidates: unknown[] }[];
    assert.ok(rows.every((r) => r.candidates.length === arm(name).k));
  }
  // compute-matched: 2 steps x 2 prompts x 3 rollouts over 32 records, plus k = 2
  assert.equal(arm('prompted-matched').k, 3);
  assert.equal(arm('sdft').k, 1);
  assert.match(arm('sdft').note!, /equals prompted at k = 1/);
  assert.match(arm('self-alignment').note!, /importance weighting is left out by design/);

  // prompted and sdft sample the backbone itself; rl and each ablation sample with its own best adapter
  const models = new Map(rlRewrites.map((r) => [r.name as string, r.model as { uri: string; adapter?: string }]));
  assert.equal(models.get('prompted-s0')!.adapter, undefined);
  assert.equal(models.get('sdft-s0')!.adapter, undefined);
  assert.equal((rlRewrites.find((r) => r.name === 'sdft-s0') as { rejectGiveaways?: boolean }).rejectGiveaways, true);
  for (const name of ['rl', 'rl-no-dist', 'rl-no-div', 'rl-no-gate'])
    assert.equal(models.get(`${name}-s0`)!.adapter, out.rewriters[name].best.adapter, name);
  const gates = rlRewrites.map((r) => JSON.stringify(r.gate));
  assert.ok(gates.every((g) => g === gates[0]) && /steps/.test(gates[0]), 'one gate, answer and steps');

  // the ablations are trainRewriter children with one weight changed each
  const ablation = async (name: string) => childInput(`pipeline/rewriter-${name}`);
  assert.equal((await ablation('no-dist')).lambdaDist, 0);
  assert.equal((await ablation('no-div')).lambdaDiv, 0);
  assert.equal((await ablation('no-gate')).gateInReward, false);
  const rl = await childInput('pipeline/rewriter');
  assert.equal(rl.preset, 'test');
  assert.equal(rl.steps, 2);
  assert.equal(rl.dataset, downstream);

  // self-alignment: the own greedy answer first, one guided rewrite for the rest, provenance per record
  const sa = arm('self-alignment');
  const saRows = lines(store, (sa.builder as { data: string }).data) as {
    provenance: string;
    answer: string;
    original: string;
    candidates: { phase: string; passes: boolean }[];
  }[];
  for (const r of saRows) {
    assert.equal(r.candidates[0].phase, 'own');
    if (r.candidates[0].passes) assert.equal(r.provenance, 'own');
    else assert.equal(r.candidates[1]?.phase, 'guided');
    if (r.provenance === 'original') assert.equal(r.answer, r.original);
  }
  assert.deepEqual(
    Object.entries(sa.data.provenance).reduce((s, [, n]) => s + n, 0),
    32,
  );

  // an SFT child and an evaluation child per arm, and the base's evaluation
  const children: string[] = [];
  for await (const w of t.env.client.workflow.list({ query: `WorkflowId STARTS_WITH "pipeline/"` }))
    children.push(w.workflowId);
  for (const a of ALL_ARMS) {
    assert.ok(children.includes(`pipeline/sft-${a}-s0`), a);
    assert.ok(children.includes(`pipeline/evaluate-${a}-s0`), a);
  }
  assert.ok(children.includes('pipeline/evaluate-base'));

  // the report: every arm of the run, cut against vanilla, rl against every other arm
  const report = JSON.parse(readFileSync(store.resolve(out.report!.json), 'utf8'));
  assert.equal(report.fallback, 'original');
  const md = readFileSync(store.resolve(out.report!.markdown), 'utf8');
  for (const a of ALL_ARMS) assert.match(md, new RegExp(`\\| ${a} `), a);
  assert.ok(readFileSync(store.resolve(out.report!.html), 'utf8').includes('<svg'));
  assert.equal(out.reports, undefined);
  // the dose-response line: y* (0% oracle), the mixture and the oracle, at their own runs' NLL
  type Mixture = { arm: string; oracleShare: number; nll: number; forgetting: { strict: { value: number } } };
  assert.deepEqual(
    (report.mixtures as Mixture[]).map((m) => [m.arm, m.oracleShare]),
    [
      ['vanilla', 0],
      ['oracle', 1],
      ['oracle-95', 0.95],
    ],
  );
  for (const m of report.mixtures as Mixture[]) {
    assert.ok(Math.abs(m.nll - arm(m.arm).score.meanNll) < 1e-9, m.arm);
    assert.ok(Number.isFinite(m.forgetting.strict.value), m.arm);
  }
  // the rewriter's pass rate against k on its validation slice: before training and at its best step
  const validated = new Set(
    (report.passAtK as { arm: string }[]).flatMap((x) => (x.arm.startsWith('rl-validation') ? [x.arm] : [])),
  );
  assert.deepEqual(
    [...validated],
    [...new Set(['rl-validation-step-0', `rl-validation-step-${out.rewriters.rl.best.step}`])],
  );

  // the progress query: every planned stage done
  const p = await handle.query<PipelineProgress>('progress');
  schemas.pipelineProgress.parse(p);
  assert.equal(p.done, p.total);
  assert.equal(p.total, 1 + 4 + 1 + ALL_ARMS.length * 4 + 1);
  assert.ok(p.stages.every((s) => s.state === 'done'));
  assert.equal(p.stage, 'done');
});

test('pipeline: the same input again reuses every finished stage', async () => {
  assert.ok(first, 'runs after the first test');
  const again = await t.env.client.workflow.execute<typeof pipeline>('pipeline', {
    taskQueue: TASK_QUEUE,
    workflowId: 'pipeline-again',
    args: [input],
  });
  assertEveryStageReused(again);
  assert.deepEqual(
    again.arms.map((a) => a.model),
    first.arms.map((a) => a.model),
  );
  assert.deepEqual(again.rewriters, first.rewriters);
});

test('pipeline: bad input names the field before anything runs', async () => {
  const fails = (workflowId: string, input: unknown, pattern: RegExp) =>
    failsAsInvalidInput(t.env, 'pipeline', workflowId, input, pattern);
  await fails(
    'pipeline-bad-arm',
    { recipe: 'test', arms: ['vanilla', 'magic'] },
    /\$\.arms\[1\]: must be equal to one of/,
  );
  await fails('pipeline-bad-fallback', { recipe: 'test', fallback: 'keep' }, /\$\.fallback: must be equal to one of/);
  await fails('pipeline-bad-rewriter', { recipe: 'test', rewriter: { steps: 0 } }, /\$\.rewriter\.steps: must be >= 1/);
  await fails(
    'pipeline-own-model',
    { backbone: { uri: 'artifact://models/mine' }, arms: ['vanilla', 'oracle'] },
    /\$\.dataset: is required with your own backbone.*\$\.benchmarks: is required.*\$\.arms\[1\]: "oracle" exists only in the embedded world/,
  );
  await fails(
    'pipeline-alias-twice',
    { recipe: 'test', arms: ['vanilla', 'foreign'] },
    /\$\.arms: names vanilla twice/,
  );
});

test('pipeline: an arm the recipe has no training set for fails before any arm starts', async () => {
  await assert.rejects(
    t.env.client.workflow.execute('pipeline', {
      taskQueue: TASK_QUEUE,
      workflowId: 'pipeline-missing-mixture',
      args: [{ recipe: 'test', arms: ['vanilla', 'oracle-25'] }],
    }),
    (e: Error) => {
      assert.equal((e.cause as Error & { type?: string }).type, 'InvalidInput');
      assert.match((e.cause as Error).message, /\$\.arms\[1\]: the test recipe has no training set "oracle-25"/);
      return true;
    },
  );
  // only the world was looked up (its pretrain child): no arm's data, no rewriter
  const history = await t.env.client.workflow.getHandle('pipeline-missing-mixture').fetchHistory();
  const children = (history.events ?? []).flatMap(
    (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? [],
  );
  assert.deepEqual(children, ['pipeline-missing-mixture/pretrain']);
  assert.ok(!(history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes));
});
