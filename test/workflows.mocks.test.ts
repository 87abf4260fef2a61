// Every workflow's orchestration with mocked activities (as in samples-typescript's
// workflows-mocks.test.ts): which activities and children run, with what, in what order, and what the
// workflow returns, in milliseconds per workflow beside the real integration tests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { CpuActivities, DeviceActivities } from '../activities';
import { ALL_LINEAR } from '../engine/lora/lora';
import type { PipelineConfigInput, SftOutput, WorldOutput } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import type { pipeline, PipelineOutput } from '../workflows/pipeline';
import type { PipelineProgress } from '../workflows/pipeline-progress';
import { deviceTaskQueue } from '../workflows/task-queues';
import { TEST_RECIPE } from '../world/recipe';
import { assertEveryStageReused } from './helpers/pipeline';
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
  train: Object.fromEntries(
    ['foreign', 'oracle', 'oracle-90', 'oracle-95'].map((a) => [a, `artifact://world/test/train-${a}.jsonl`]),
  ),
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

/**
 * Set by a test: an output with a `reused` field then says true for an input its activity has seen
 * before, as the content-addressed stages of the real activities do.
 */
let remember = false;
const seen = new Set<string>();

function record<A extends Record<string, (input: never) => Promise<unknown>>>(activities: A): A {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (input: never) => {
        calls.push([name, input]);
        const out = await fn(input);
        if (!remember || !out || typeof out !== 'object' || !('reused' in out)) return out;
        // keyed by content: an input's own reuse flags (evaluations passed on to a report) are not
        const key = `${name} ${JSON.stringify(input, (k, v: unknown) => (k === 'reused' ? undefined : v))}`;
        const reused = seen.has(key);
        seen.add(key);
        return { ...out, reused };
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
/** Set by a test to hold the start of every trainRewriter run until it resolves. */
let holdRewriter: Promise<void> | undefined;

/** Records per downstream set; with fallback 'drop' a builder's failed records leave (sdft's every one). */
const RECORDS = 4;

const cpu: Partial<CpuActivities> = record({
  prepareRewriterRun: async () => {
    await holdRewriter;
    return {
      run: runUri,
      pool: `${runUri}/data/pool.jsonl`,
      poolSize: 10,
      validation: `${runUri}/data/validation.jsonl`,
      validationSize: 4,
      reused: false,
    };
  },
  armData: async (input: { arm: string; data: string; fallback: 'original' | 'drop'; passAtK?: boolean }) => {
    const built = input.data.startsWith('artifact://rewrites/');
    const passing = input.arm.startsWith('sdft-') ? 0 : RECORDS - 1;
    const kept = built && input.fallback === 'drop' ? passing : RECORDS;
    return {
      uri: `artifact://arms/${input.arm}`,
      dataset: `artifact://arms/${input.arm}/sft.jsonl`,
      records: RECORDS,
      kept,
      dropped: RECORDS - kept,
      provenance: (built ? { rewrite: passing, original: RECORDS - passing } : { dataset: RECORDS }) as Record<
        string,
        number
      >,
      ...(built ? { rewriteSuccess: passing / RECORDS } : {}),
      ...(input.passAtK ? { passAtK: [0.5, 0.75] } : {}),
      reused: false,
    };
  },
  pipelineReport: async (input: { name?: string; fallback?: 'original' | 'drop' }) => ({
    uri: `artifact://reports/${input.name}`,
    json: `artifact://reports/${input.name}/report.json`,
    markdown: `artifact://reports/${input.name}/report.md`,
    html: `artifact://reports/${input.name}/report.html`,
    fallback: input.fallback ?? 'original',
    groups: [],
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
  rewriteDataset: async (input: { temperature?: number; samples?: number; name?: string }) => ({
    uri: `artifact://rewrites/${input.name ?? `t${input.temperature}`}`,
    data: `artifact://rewrites/${input.name ?? `t${input.temperature}`}/data.jsonl`,
    records: 2,
    passRate: input.temperature === 0 ? 0.5 : 0.25,
    answerPassRate: 0.5,
    samplePassRate: 0.25,
    sampleAnswerPassRate: 0.5,
    copyRate: 0,
    truncated: 0,
    reused: false,
  }),
  selfAlignDataset: async (input: { name?: string }) => ({
    uri: `artifact://rewrites/${input.name}`,
    data: `artifact://rewrites/${input.name}/data.jsonl`,
    records: RECORDS,
    provenance: { own: 1, guided: 2, original: 1 },
    passRate: 0.75,
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

// ---- pipeline: the DAG of every default world arm under fallback 'drop' ----

// sft: what the one SFT recipe of every arm overrides in the world recipe's
const pipelineInput: PipelineConfigInput = {
  recipe: 'test',
  fallback: 'drop',
  rewriter: { steps: 2 },
  sft: { mode: 'lora', lora: { rank: 4 }, promptFormat: 'Q: {question}\nA: ' },
};
const DEFAULT_WORLD_ARMS = ['vanilla', 'prompted', 'sdft', 'self-alignment', 'rl', 'oracle', 'oracle-90', 'oracle-95'];
const BACKBONE = 'artifact://sft/backbone-test/model';
type Call = Record<string, unknown> & { name?: string; arm?: string; model?: { uri: string; adapter?: string } };
const inputsOf = (activity: string) => calls.filter(([n]) => n === activity).map(([, i]) => i as Call);
const until = async (ok: () => boolean, what: string) => {
  for (let i = 0; i < 2000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), what);
};

let firstPipeline: PipelineOutput;

test("pipeline: every default world arm's chain, the independent ones while the rewriter trains; an arm 'drop' empties is skipped and reported", async () => {
  calls.length = 0;
  remember = true;
  let release!: () => void;
  holdRewriter = new Promise((r) => (release = r));
  const handle = await env.client.workflow.start<typeof pipeline>('pipeline', {
    taskQueue: TASK_QUEUE,
    workflowId: 'mock-pipeline',
    args: [pipelineInput],
  });
  // while the rewriter is held at its first activity, every arm that does not need it runs through
  // SFT (the empty sdft arm stops after its data) and the base is evaluated: the branches started together
  const trained = ['vanilla', 'prompted', 'self-alignment', 'oracle', 'oracle-90', 'oracle-95'];
  await until(
    () => inputsOf('sft').filter((i) => i.name !== 'backbone-test').length === trained.length,
    'every arm but rl fine-tuned while the rewriter is held',
  );
  assert.ok(
    inputsOf('evaluateBenchmark').some((i) => i.model!.uri === BACKBONE),
    'the base evaluated meanwhile',
  );
  assert.deepEqual(
    inputsOf('prepareRewriterRun').map((i) => i.name),
    ['rewriter'],
  );
  assert.ok(!inputsOf('rewriteDataset').some((i) => i.name === 'rl-s0'), 'rl waits for its rewriter');
  const started = calls.length;
  release();
  const out = (firstPipeline = await handle.result());
  holdRewriter = undefined;
  assert.ok(
    calls.slice(started).some(([n]) => n === 'rollout'),
    'the rewriter trained after it was released',
  );

  // the world (pretrain child: prepareWorld, then the backbone's pretraining) comes first
  assert.deepEqual(names().slice(0, 2), ['prepareWorld', 'sft']);
  assert.equal(out.backbone.uri, BACKBONE);
  // each arm's dataset builder, with the one gate (answer and steps) and the pipeline's k
  const built = new Map(inputsOf('rewriteDataset').map((i) => [i.name, i]));
  assert.deepEqual([...built.keys()].sort(), ['prompted-s0', 'rl-s0', 'sdft-s0']);
  for (const [name, i] of built) {
    assert.equal(i.dataset, world.train.foreign, name);
    assert.deepEqual((i.gate as { checks: string[] }).checks, ['answer', 'steps'], name);
    assert.equal(i.seed, 0, name);
  }
  assert.deepEqual(built.get('prompted-s0')!.model, { uri: BACKBONE });
  assert.equal(built.get('prompted-s0')!.samples, 4);
  assert.deepEqual([built.get('sdft-s0')!.samples, built.get('sdft-s0')!.rejectGiveaways], [1, true]);
  // rl samples with the best checkpoint of its trainRewriter child (validated at steps 0 and 2)
  assert.deepEqual(built.get('rl-s0')!.model, { uri: BACKBONE, adapter: fileOf(2, 'adapter') });
  assert.equal(built.get('rl-s0')!.samples, 4);
  const rewriter = (await env.client.workflow.getHandle('mock-pipeline/rewriter').result()) as {
    best: { step: number };
  };
  assert.equal(rewriter.best.step, 2);
  assert.deepEqual(
    inputsOf('selfAlignDataset').map((i) => [i.name, i.model, i.dataset]),
    [['self-alignment-s0', { uri: BACKBONE }, world.train.foreign]],
  );

  // armData: every arm's file under fallback 'drop'; pass@k for the k-sample builders only
  const arms = new Map(inputsOf('armData').map((i) => [i.arm, i]));
  assert.deepEqual([...arms.keys()].sort(), DEFAULT_WORLD_ARMS.map((a) => `${a}-s0`).sort());
  const file = (arm: string) => arms.get(`${arm}-s0`)!.data;
  assert.equal(file('vanilla'), world.train.foreign);
  for (const a of ['oracle', 'oracle-90', 'oracle-95']) assert.equal(file(a), world.train[a], a);
  for (const a of ['prompted', 'sdft', 'rl', 'self-alignment'])
    assert.equal(file(a), `artifact://rewrites/${a}-s0/data.jsonl`, a);
  assert.ok([...arms.values()].every((i) => i.fallback === 'drop'));
  assert.deepEqual(
    [...arms.values()]
      .filter((i) => i.passAtK)
      .map((i) => i.arm)
      .sort(),
    ['prompted-s0', 'rl-s0'],
  );

  // scored, fine-tuned and evaluated: each arm with records, on its own SFT set; sdft (0 kept) skipped
  const withData = DEFAULT_WORLD_ARMS.filter((a) => a !== 'sdft');
  const sets = withData.map((a) => `artifact://arms/${a}-s0/sft.jsonl`).sort();
  assert.deepEqual(
    inputsOf('scoreDataset')
      .map((i) => i.dataset)
      .sort(),
    sets,
  );
  assert.ok(inputsOf('scoreDataset').every((i) => i.model!.uri === BACKBONE && i.embeddings === true));
  const sfts = inputsOf('sft').filter((i) => i.name !== 'backbone-test');
  assert.deepEqual(sfts.map((i) => i.dataset).sort(), sets);
  assert.ok(sfts.every((i) => i.model!.uri === BACKBONE && i.seed === 0));
  assert.equal(TEST_RECIPE.sft.epochs, sfts[0].epochs, "the world recipe's SFT settings");
  for (const i of sfts) {
    assert.equal(i.mode, 'lora', "the pipeline's SFT overrides");
    assert.deepEqual(i.lora, { rank: 4, alpha: 16, targetModules: [...ALL_LINEAR] });
    assert.equal(i.promptFormat, 'Q: {question}\nA: ');
  }
  const evaluated = new Set(inputsOf('evaluateBenchmark').map((i) => i.model!.uri));
  assert.deepEqual([...evaluated].sort(), [BACKBONE, ...withData.map((a) => `artifact://sft/sft-${a}/model`)].sort());
  assert.equal(inputsOf('evaluateBenchmark').length, 2 * (1 + withData.length), 'two benchmarks each');

  // the result: the fine-tuned arms in the order asked for, the empty one apart, saying why
  assert.deepEqual(
    out.arms.map((a) => a.arm),
    withData,
  );
  assert.deepEqual(
    out.empty?.map((a) => [a.arm, a.seed, a.data.kept, a.data.dropped, a.k]),
    [['sdft', 0, 0, RECORDS, 1]],
  );
  assert.match(out.empty![0].empty, /^0 records: nothing to fine-tune/);
  assert.equal(out.arms.find((a) => a.arm === 'prompted')!.data.kept, RECORDS - 1);

  // the report: the fine-tuned arms' evaluations and data, the empty arm listed with its records
  const [report] = inputsOf('pipelineReport') as unknown as {
    fallback: string;
    runs: { arms: Record<string, { dataset: string }>; empty?: Record<string, { records: number }> }[];
    passAtK: { arm: string }[];
    mixtures: { arm: string; oracleShare: number }[];
  }[];
  assert.equal(names().at(-1), 'pipelineReport');
  assert.equal(report.fallback, 'drop');
  assert.deepEqual(Object.keys(report.runs[0].arms), withData);
  assert.deepEqual(report.runs[0].empty, { sdft: { records: RECORDS } });
  assert.deepEqual(
    report.mixtures.map((m) => [m.arm, m.oracleShare]),
    [
      ['vanilla', 0],
      ['oracle', 1],
      ['oracle-90', 0.9],
      ['oracle-95', 0.95],
    ],
  );
  assert.deepEqual([...new Set(report.passAtK.map((p) => p.arm))].sort(), ['prompted', 'rl']);

  // progress: every planned stage finished; the empty arm's three later stages skipped, not run
  const p = await handle.query<PipelineProgress>('progress');
  assert.equal(p.done, p.total);
  assert.equal(p.total, 1 + 1 + 1 + DEFAULT_WORLD_ARMS.length * 4 + 1);
  const skipped = p.stages.filter((x) => x.state === 'skipped').map((x) => x.name);
  assert.deepEqual(skipped, ['score:sdft:s0', 'sft:sdft:s0', 'evaluate:sdft:s0']);
  assert.ok(p.stages.every((x) => x.state === 'done' || skipped.includes(x.name)));
});

test('pipeline: the same input again runs the same DAG, and every stage comes back reused', async () => {
  assert.ok(firstPipeline, 'runs after the first pipeline test');
  // every activity with its input, but the two that carry what the run measured (step timings, reuse flags)
  const dag = () =>
    calls.map(([n, i]) => (n === 'recordStep' || n === 'pipelineReport' ? n : `${n} ${JSON.stringify(i)}`)).sort();
  const before = dag();
  calls.length = 0;
  const again = await env.client.workflow.execute<typeof pipeline>('pipeline', {
    taskQueue: TASK_QUEUE,
    workflowId: 'mock-pipeline-again',
    args: [pipelineInput],
  });
  remember = false;
  // the same activities with the same inputs: nothing new is computed, each stage finds its output
  assert.deepEqual(dag(), before);
  assertEveryStageReused(again);
  assert.equal(again.empty![0].data.reused, true);
  assert.deepEqual(
    again.base.results.map((r) => r.reused),
    [true, true],
  );
  const what = (o: PipelineOutput) => o.arms.map((a) => [a.arm, a.model, a.data.dataset, a.evaluation.general]);
  assert.deepEqual(what(again), what(firstPipeline));
  assert.deepEqual(again.rewriters, firstPipeline.rewriters);
  assert.equal(again.report!.reused, true);
});
