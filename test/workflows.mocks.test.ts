// Every workflow's orchestration with mocked activities (as in samples-typescript's
// workflows-mocks.test.ts): which activities and children run, with what, in what order, and what the
// workflow returns, in milliseconds per workflow beside the real integration tests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { CpuActivities, DeviceActivities } from '../activities';
import type { SftOutput, WorldOutput } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import { deviceTaskQueue } from '../workflows/task-queues';
import { TEST_RECIPE } from '../world/recipe';
import { startTestServer, workflowBundle } from './helpers/temporal';

let env: TestWorkflowEnvironment;
/** Activity calls in the order they ran: [name, input]. */
const calls: [string, unknown][] = [];
let running: Promise<unknown>;
let workers: Worker[];

const world: WorldOutput = {
  uri: 'artifact://world/test',
  recipe: TEST_RECIPE,
  benchmarks: [
    { name: 'g', data: 'artifact://world/test/g.jsonl', role: 'general', extractor: { kind: 'boxed' } },
    { name: 'd', data: 'artifact://world/test/d.jsonl', role: 'downstream', extractor: { kind: 'boxed' } },
  ] as WorldOutput['benchmarks'],
  train: { foreign: 'artifact://world/test/foreign.jsonl', oracle: 'artifact://world/test/oracle.jsonl' },
  pretrainData: 'artifact://world/test/pretrain.jsonl',
  initialModel: { uri: 'artifact://world/test/initial-model' },
  reused: false,
};

const sftOut = (name: string): SftOutput => ({
  uri: `artifact://sft/${name}`,
  model: { uri: `artifact://sft/${name}/model` },
  steps: 4,
  examples: 8,
  firstLoss: 2,
  finalLoss: 1,
  log: `artifact://sft/${name}/log.jsonl`,
  reused: false,
});

function record<A extends Record<string, (input: never) => Promise<unknown>>>(activities: A): A {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (input: never) => {
        calls.push([name, input]);
        return fn(input);
      },
    ]),
  ) as A;
}

// trainRewriter's stages: each step's outputs named by its step, so the test can follow them
const runUri = 'artifact://rewriter/mock';
const fileOf = (step: number, what: string) => `${runUri}/steps/${step}/${what}`;
/** The validation figures of each validated step: two tie on the greedy rate, the lower NLL must win. */
const VALIDATION: Record<number, [number, number | null]> = {
  0: [0.2, null],
  2: [0.6, 1],
  4: [0.6, 0.8],
  5: [0.5, 0.5],
};
/** Set by a test to hold step 1's update until it resolves (so signals arrive mid-run). */
let holdUpdate: Promise<void> | undefined;

const cpu: Partial<CpuActivities> = record({
  prepareRewriterRun: async () => ({
    run: runUri,
    pool: `${runUri}/data/pool.jsonl`,
    poolSize: 10,
    validation: `${runUri}/data/validation.jsonl`,
    validationSize: 4,
    reused: false,
  }),
  gate: async (input: { step: number }) => ({
    uri: fileOf(input.step, 'verdicts.jsonl'),
    answerPassRate: 0.5,
    fullPassRate: 0.25,
    copyRate: 0,
    editDistance: 0.3,
    reused: false,
  }),
  recordStep: async (input: { run: string; step: number }) => ({ metrics: `${input.run}/metrics/${input.step}.json` }),
  finishRewriterRun: async (input: { run: string; keep: number[] }) => ({
    metrics: `${input.run}/metrics.jsonl`,
    timings: `${input.run}/timings.jsonl`,
    curves: `${input.run}/curves.svg`,
    kept: input.keep,
    removed: [],
  }),
  prepareWorld: async () => world,
  importDataset: async () =>
    ({ counts: { read: 3, valid: 3, duplicates: 0, rejected: 0, train: 2, test: 1 } }) as Awaited<
      ReturnType<CpuActivities['importDataset']>
    >,
  forgettingReport: async (input: { name?: string }) =>
    ({
      uri: `artifact://reports/${input.name}`,
      strict: {},
      lenient: {},
      markdown: '# report',
      downstream: {},
    }) as never,
});

const device: Partial<DeviceActivities> = record({
  rollout: async (input: { step: number }) => ({
    uri: fileOf(input.step, 'rollouts.jsonl'),
    prompts: 2,
    rollouts: 6,
    meanLength: 5,
    truncationRate: 0,
    entropy: 1,
    ms: 1,
    reused: false,
  }),
  reward: async (input: { step: number }) => ({
    uri: fileOf(input.step, 'rewards.jsonl'),
    rewardMean: 1,
    rewardStd: 0.5,
    gateMean: 0.25,
    distMean: 0.5,
    divMean: 0.1,
    feasibleNll: 1.2,
    diversity: 0.2,
    allEqualGroups: 0,
    ms: 1,
    reused: false,
  }),
  update: async (input: { step: number }) => {
    if (input.step === 1) await holdUpdate;
    return {
      adapter: fileOf(input.step, 'adapter'),
      loss: 0.1,
      kl: 0,
      clipFraction: 0,
      gradNorm: 1,
      logprobGap: 0,
      tokens: 30,
      ms: 1,
      reused: false,
    };
  },
  validateRewriter: async (input: { step: number }) => ({
    uri: fileOf(input.step, 'validation.jsonl'),
    step: input.step,
    records: 4,
    greedyFullPassRate: VALIDATION[input.step][0],
    greedyAnswerPassRate: 0.9,
    kFullPassRate: 0.9,
    kAnswerPassRate: 1,
    meanNll: VALIDATION[input.step][1],
    diversity: 0.1,
    copyRate: 0,
    reused: false,
  }),
  sft: async (input: { name?: string }) => sftOut(input.name ?? 'sft'),
  evaluateBenchmark: async (input: { benchmark: { name: string; role?: string }; model: { uri: string } }) => ({
    benchmark: input.benchmark.name,
    role: (input.benchmark.role ?? 'general') as 'general' | 'downstream',
    items: 10,
    strict: input.model.uri.includes('initial') ? 50 : 40,
    lenient: 60,
    truncated: 0,
    uri: `artifact://eval/${input.benchmark.name}`,
    reused: false,
  }),
  scoreDataset: async (input: { dataset: string }) => ({
    uri: 'artifact://scores/x',
    records: 2,
    tokens: 20,
    meanNll: input.dataset.includes('oracle') ? 0.5 : 1.5,
    meanRecordNll: 1,
    reused: false,
  }),
  rewriteDataset: async (input: { temperature?: number; samples?: number }) => ({
    uri: `artifact://rewrites/t${input.temperature}`,
    data: 'artifact://rewrites/data.jsonl',
    records: 2,
    passRate: input.temperature === 0 ? 0.5 : 0.25,
    answerPassRate: 0.5,
    samplePassRate: 0.25,
    sampleAnswerPassRate: 0.5,
    copyRate: 0,
    truncated: 0,
    reused: false,
  }),
});

before(async () => {
  env = await startTestServer();
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default' };
  workers = [
    await Worker.create({ ...common, taskQueue: TASK_QUEUE, workflowBundle: workflowBundle(), activities: cpu }),
    await Worker.create({ ...common, taskQueue: deviceTaskQueue('cpu'), activities: device }),
  ];
  running = Promise.all(workers.map((w) => w.run()));
});

after(async () => {
  workers.forEach((w) => w.shutdown());
  await running;
  await env?.teardown();
});

async function run(workflow: string, input: unknown, id: string) {
  calls.length = 0;
  return env.client.workflow.execute(workflow, { taskQueue: TASK_QUEUE, workflowId: `mock-${id}`, args: [input] });
}
const names = () => calls.map(([n]) => n);

test('importDataset: one import activity with the validated input, its result returned', async () => {
  const out = await run('importDataset', { source: 'artifact://in.jsonl' }, 'import');
  assert.deepEqual(names(), ['importDataset']);
  assert.equal((calls[0][1] as { source: string }).source, 'artifact://in.jsonl');
  assert.equal(out.counts.valid, 3);
});

test('evaluate: a device activity per benchmark, general and downstream means', async () => {
  const out = await run(
    'evaluate',
    { model: { uri: 'artifact://m' }, benchmarks: world.benchmarks, batchSize: 2 },
    'evaluate',
  );
  assert.deepEqual(names(), ['evaluateBenchmark', 'evaluateBenchmark']);
  assert.deepEqual(out.general, { strict: 40, lenient: 60 });
  assert.deepEqual(out.downstream, { strict: 40, lenient: 60 });
});

test('sft: one device activity, its model returned', async () => {
  const out = await run('sft', { model: { uri: 'artifact://m' }, dataset: 'artifact://d.jsonl', name: 'x' }, 'sft');
  assert.deepEqual(names(), ['sft']);
  assert.equal(out.model.uri, 'artifact://sft/x/model');
});

test("pretrain: the world, then pretraining with the recipe's settings from its initial model", async () => {
  const out = await run('pretrain', { recipe: 'test' }, 'pretrain');
  assert.deepEqual(names(), ['prepareWorld', 'sft']);
  const sftInput = calls[1][1] as { name: string; model: { uri: string }; batchSize: number };
  assert.equal(sftInput.name, 'backbone-test');
  assert.equal(sftInput.model.uri, world.initialModel.uri);
  assert.equal(sftInput.batchSize, TEST_RECIPE.pretrain.batchSize);
  assert.equal(out.backbone.uri, 'artifact://sft/backbone-test/model');
});

test('worldForgetting: pretrain child, NLL per arm, SFT per arm, evaluation of base and arms, report', async () => {
  const out = await run('worldForgetting', { recipe: 'test', arms: ['foreign', 'oracle'] }, 'world');
  const seen = names();
  assert.deepEqual(seen.slice(0, 4), ['prepareWorld', 'sft', 'scoreDataset', 'scoreDataset']);
  assert.equal(seen.filter((n) => n === 'sft').length, 3, 'the backbone and two arms');
  assert.equal(seen.filter((n) => n === 'evaluateBenchmark').length, 6, 'two benchmarks for base and two arms');
  assert.equal(seen.at(-1), 'forgettingReport');
  assert.deepEqual(out.nll, { foreign: 1.5, oracle: 0.5 });
  assert.deepEqual(Object.keys(out.arms), ['foreign', 'oracle']);
  const sftSeed = calls.filter(([n]) => n === 'sft').map(([, i]) => (i as { seed: number }).seed);
  assert.deepEqual(sftSeed.slice(1), [0, 0]);
});

test('rewriterProbe: pretrain child, then one rewrite per temperature, in the order given', async () => {
  const out = await run('rewriterProbe', { recipe: 'test', temperatures: [0, 0.8], samples: 4, limit: 2 }, 'probe');
  assert.deepEqual(names(), ['prepareWorld', 'sft', 'rewriteDataset', 'rewriteDataset']);
  // started together: the mock worker may run them in either order
  const inputs = calls
    .slice(2)
    .map(([, i]) => i as { temperature: number; samples: number; limit: number })
    .sort((a, b) => a.temperature - b.temperature);
  assert.deepEqual(
    inputs.map((i) => [i.temperature, i.samples, i.limit]),
    [
      [0, 1, 2],
      [0.8, 4, 2],
    ],
  );
  assert.deepEqual(
    out.runs.map((r: { temperature: number; passRate: number }) => [r.temperature, r.passRate]),
    [
      [0, 0.5],
      [0.8, 0.25],
    ],
  );
});

const rewriterInput = {
  name: 'mock',
  preset: 'test',
  backbone: { uri: 'artifact://backbone' },
  dataset: 'artifact://train.jsonl',
  steps: 5,
  validation: { every: 2 },
  keepEvery: 3,
};
type StepInput = { step: number; adapter?: string; temperature: number };

test('trainRewriter: rollout, gate, reward, update and the metrics line per step; validation at 0, every N and the last', async () => {
  const out = await run('trainRewriter', rewriterInput, 'rewriter');
  const perStep = (step: number) => [
    'rollout',
    'gate',
    'reward',
    'update',
    ...(step % 2 === 0 || step === 5 ? ['validateRewriter'] : []),
    'recordStep',
  ];
  assert.deepEqual(names(), [
    'prepareRewriterRun',
    'validateRewriter',
    ...[1, 2, 3, 4, 5].flatMap(perStep),
    'finishRewriterRun',
  ]);
  // each step reads the previous step's outputs: the adapter chain and the files of its own step
  const byName = (n: string) => calls.filter(([c]) => c === n).map(([, i]) => i as StepInput & Record<string, string>);
  assert.deepEqual(
    byName('rollout').map((i) => i.adapter),
    [undefined, ...[1, 2, 3, 4].map((s) => fileOf(s, 'adapter'))],
  );
  for (const [k, r] of byName('reward').entries()) {
    assert.equal(r.rollouts, fileOf(k + 1, 'rollouts.jsonl'));
    assert.equal(r.verdicts, fileOf(k + 1, 'verdicts.jsonl'));
  }
  assert.deepEqual(
    byName('validateRewriter').map((i) => [i.step, i.adapter]),
    [
      [0, undefined],
      [2, fileOf(2, 'adapter')],
      [4, fileOf(4, 'adapter')],
      [5, fileOf(5, 'adapter')],
    ],
  );
  // the best checkpoint: the highest greedy full pass rate (0.6 at steps 2 and 4), the tie to the lower NLL
  assert.deepEqual(out.best, { step: 4, adapter: fileOf(4, 'adapter'), greedyFullPassRate: 0.6, meanNll: 0.8 });
  assert.deepEqual(out.last, { step: 5, adapter: fileOf(5, 'adapter') });
  // retention keeps the best and the last (and every keepEvery-th, which the activity applies)
  assert.deepEqual(byName('finishRewriterRun')[0], { run: runUri, keep: [4, 5], keepEvery: 3 });
  const lines = byName('recordStep') as unknown as { step: number; metrics: Record<string, unknown> }[];
  assert.deepEqual(
    lines.map((l) => l.step),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(
    lines.map((l) => 'val' in l.metrics),
    [false, true, false, true, true],
  );
  assert.equal(lines[0].metrics.fullPassRate, 0.25);
});

test('trainRewriter: an adjust during a step applies from the next; pause holds the next step, a bad adjust is refused, resume finishes', async () => {
  let release!: () => void;
  holdUpdate = new Promise((r) => (release = r));
  calls.length = 0;
  const handle = await env.client.workflow.start('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'mock-rewriter-steer',
    args: [{ ...rewriterInput, name: 'steer' }],
  });
  const until = async (ok: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 1000 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(await ok(), 'the awaited state was reached');
  };
  await until(() => names().includes('update'));
  // during step 1: its settings were taken when it began, so this applies from step 2
  await handle.executeUpdate('adjust', { args: [{ lambdaDiv: 0.25 }] });
  await handle.signal('pause');
  release();
  await until(async () => (await handle.query<{ stage: string }>('progress')).stage === 'paused');
  await assert.rejects(
    handle.executeUpdate('adjust', { args: [{ temperature: 0 }] }),
    (e: unknown) => e instanceof WorkflowUpdateFailedError && /temperature/.test(String(e.cause?.message)),
  );
  await handle.executeUpdate('adjust', { args: [{ temperature: 0.5 }] });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(calls.filter(([n]) => n === 'rollout').length, 1, 'no new step while paused');
  await handle.signal('resume');
  const out = await handle.result();
  holdUpdate = undefined;
  const rollouts = calls.filter(([n]) => n === 'rollout').map(([, i]) => (i as StepInput).temperature);
  assert.deepEqual(rollouts, [0.8, 0.5, 0.5, 0.5, 0.5]);
  assert.deepEqual(out.adjustments, [
    { fromStep: 2, values: { lambdaDiv: 0.25 } },
    { fromStep: 2, values: { temperature: 0.5 } },
  ]);
  const settings = calls
    .filter(([n]) => n === 'recordStep')
    .map(([, i]) => (i as { metrics: { settings: { temperature: number; lambdaDiv: number } } }).metrics.settings)
    .map((m) => [m.temperature, m.lambdaDiv]);
  assert.deepEqual(settings, [[0.8, 0.5], ...Array.from({ length: 4 }, () => [0.5, 0.25])]);
  const rewards = calls.filter(([n]) => n === 'reward').map(([, i]) => (i as { lambdaDiv: number }).lambdaDiv);
  assert.deepEqual(rewards, [0.5, 0.25, 0.25, 0.25, 0.25]);
});
