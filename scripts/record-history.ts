// Records the event histories of real workflow runs into test/histories/, for the replay test that
// guards workflow determinism. Run it by hand (`npx tsx scripts/record-history.ts [file ...]`) when a
// workflow change is meant to be incompatible or adds a patch, and keep the old histories too. It bundles
// the workflows afresh first: the bundle an earlier test run left would record the code of then.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { PROJECT_ROOT, TASK_QUEUE } from '../workers/settings';
import { put } from '../test/helpers/data';
import { setupTests } from './test-setup';
import { putBenchmark, putTinyModel } from '../test/helpers/model';
import { cpuWorker, deviceWorker, startTestServer, tempDir, testEnvFile } from '../test/helpers/temporal';

await setupTests();
const env = await startTestServer();
const root = await tempDir();
const workers = [await cpuWorker(env, root), await deviceWorker(env, root)];
const source = await put(
  root,
  'inputs/downstream.jsonl',
  readFileSync(join(PROJECT_ROOT, 'world/sample/downstream.jsonl')),
);
const tiny = await putTinyModel(root);
const rewriteData = await put(
  root,
  'data/rewrite.jsonl',
  Array.from({ length: 6 }, (_, i) =>
    JSON.stringify({ id: `r${i}`, question: `What is ${i} + 2?`, answer: `${i} + 2 = ${i + 2}\n\\boxed{${i + 2}}` }),
  ).join('\n') + '\n',
);
const rewriterRun = (steps: number) => ({
  preset: 'test',
  backbone: { uri: tiny },
  dataset: rewriteData,
  steps,
  maxNewTokens: 4,
  validation: { every: 2, samples: 1, limit: 2 },
});
/** Steers a trainRewriter run as a user would: an adjust while step 1's activities run, then pause and resume. */
async function steer(handle: WorkflowHandle): Promise<void> {
  // the handler is registered once the run's plan is read: until then the query is refused
  const progress = () =>
    handle.query<{ stage: string; step: number }>('progress').catch(() => ({ stage: 'setup', step: 0 }));
  const until = async (ok: (p: { stage: string; step: number }) => boolean) => {
    for (let p = await progress(); !ok(p); p = await progress()) await new Promise((r) => setTimeout(r, 10));
  };
  await until((p) => p.step >= 1 && ['rollout', 'gate', 'reward', 'update'].includes(p.stage));
  await handle.executeUpdate('adjust', { args: [{ lambdaDiv: 0.25 }] });
  await handle.signal('pause');
  await until((p) => p.stage === 'paused');
  await handle.signal('resume');
}
const runs: [string, string, unknown, ((h: WorkflowHandle) => Promise<void>)?][] = [
  ['importDataset', 'import-dataset', { source, name: 'sample', map: { question: 'problem', answer: 'solution' } }],
  [
    'evaluate',
    'evaluate',
    {
      model: { uri: tiny },
      benchmarks: [
        { name: 'a', data: await putBenchmark(root, 'a', 4), extractor: { kind: 'boxed' }, maxNewTokens: 4 },
        {
          name: 'b',
          role: 'downstream',
          data: await putBenchmark(root, 'b', 3),
          extractor: { kind: 'boxed' },
          maxNewTokens: 4,
        },
      ],
      batchSize: 2,
    },
  ],
  [
    'sft',
    'sft',
    {
      model: { uri: tiny },
      dataset: await put(root, 'data/train.jsonl', '{"id":"a","question":"one plus one","answer":"2"}\n'),
      epochs: 4,
      batchSize: 1,
      learningRate: 1e-3,
    },
  ],
  ['trainRewriter', 'train-rewriter', rewriterRun(2)],
  // the 'adjust-after-step-in-flight' patch: an adjustment arriving mid-step, then a pause
  ['trainRewriter', 'train-rewriter-steered', rewriterRun(4), steer],
  // the 'gate-judge-stage' patch: the gate's judge on, a judge stage between rollout and gate
  [
    'trainRewriter',
    'train-rewriter-judge',
    {
      ...rewriterRun(2),
      gate: {
        checks: ['answer', 'judge'],
        judgePrompt: 'Problem:\n{question} | {reference} | {candidate}\n\nAnswer:\n',
      },
    },
  ],
  // the world's workflows on the seconds-long test recipe; pretrain runs first, so the other two record
  // the cached-backbone branch of their pretrain child, as most real runs take it
  ['pretrain', 'pretrain', { recipe: 'test' }],
  ['worldForgetting', 'world-forgetting', { recipe: 'test', arms: ['foreign'] }],
  ['rewriterProbe', 'rewriter-probe', { recipe: 'test', limit: 4, temperatures: [0, 0.8], samples: 2 }],
  // pretraining overrides (the packed step): the pretrain child gets them, the backbone is trained anew
  ['pretrain', 'pretrain-packed', { recipe: 'test', pretrain: { packed: true } }],
  ['worldForgetting', 'world-forgetting-packed', { recipe: 'test', arms: ['foreign'], pretrain: { packed: true } }],
  // every arm once, the rewriter and one ablation as children; pipeline.json was recorded before the
  // pipeline's own report (a forgetting report per seed), pipeline-with-report.json after
  ...(['pipeline', 'pipeline-with-report'] as const).map((file): [string, string, unknown] => [
    'pipeline',
    file,
    {
      recipe: 'test',
      arms: ['vanilla', 'prompted', 'prompted-matched', 'sdft', 'self-alignment', 'rl', 'rl-no-gate', 'oracle'],
      rewriter: { steps: 1 },
      rewrite: { samples: 2 },
    },
  ]),
  // the default arms, which since the 'dose-response-arms' patch include the 90% and 95% oracle mixtures
  ['pipeline', 'pipeline-default-arms', { recipe: 'test', rewriter: { steps: 1 }, rewrite: { samples: 2 } }],
];
// `npx tsx scripts/record-history.ts train-rewriter` records only the histories named
const only = process.argv.slice(2);
const runAll = async () => {
  for (const [workflow, file, input, drive] of runs.filter(([, f]) => !only.length || only.includes(f))) {
    const handle = await env.client.workflow.start(workflow, {
      taskQueue: TASK_QUEUE,
      workflowId: `${file}-history`,
      args: [input],
    });
    await drive?.(handle);
    await handle.result();
    // the CLI's JSON export is the standard format histories are shared in
    const json = execFileSync(
      testEnvFile().temporalBinary,
      ['workflow', 'show', '--address', env.connection.options.address, '-w', handle.workflowId, '--output', 'json'],
      { encoding: 'utf8' },
    );
    const out = join(PROJECT_ROOT, 'test', 'histories', `${file}.json`);
    writeFileSync(out, json);
    console.log(`wrote ${out} (${JSON.parse(json).events.length} events)`);
  }
};
await workers[0].runUntil(() => workers[1].runUntil(runAll));
await env.teardown();
