// The prompted rewriter at step 0 on the seconds-long test recipe: the cached pretrain child, then one
// rewriteDataset run per temperature; the rates it returns are those of the verdicts it stored.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { schemas } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import type { rewriterProbe } from '../workflows/rewriter-probe';
import { useTemporal } from './helpers/temporal';

const t = useTemporal({ device: true });

interface Row {
  id: string;
  answer: string;
  original: string;
  rewrite_success: boolean;
  num_rewrite_trials: number;
  candidates: { text: string; passes: boolean; finishReason: string }[];
}

test('rewriterProbe: greedy and sampled pass rates agree with the stored verdicts; a repeat reuses them', async () => {
  const input = { recipe: 'test' as const, limit: 16, temperatures: [0, 0.8], samples: 2, sampleSeed: 3 };
  const out = await t.env.client.workflow.execute<typeof rewriterProbe>('rewriterProbe', {
    taskQueue: TASK_QUEUE,
    workflowId: 'rewriter-probe',
    args: [input],
  });
  schemas.rewriterProbeOutput.parse(out);
  assert.equal(out.arm, 'foreign');
  assert.match(out.dataset, /train-foreign\.jsonl$/);
  assert.deepEqual(
    out.runs.map((r) => [r.temperature, r.samples, r.seed, r.records, r.reused]),
    [
      [0, 1, 0, 16, false],
      [0.8, 2, 3, 16, false],
    ],
  );
  assert.notEqual(out.runs[0].uri, out.runs[1].uri);

  const store = new ArtifactStore(t.root);
  const originals = readFileSync(store.resolve(out.dataset), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 16)
    .map((l) => JSON.parse(l) as { id: string; answer: string });
  for (const run of out.runs) {
    const rows = readFileSync(store.resolve(`${run.uri}/data.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Row);
    assert.deepEqual(
      rows.map((r) => [r.id, r.original]),
      originals.map((r) => [r.id, r.answer]),
    );
    const candidates = rows.flatMap((r) => r.candidates);
    assert.equal(candidates.length, 16 * run.samples);
    for (const r of rows) {
      assert.equal(r.num_rewrite_trials, run.samples);
      assert.equal(
        r.rewrite_success,
        r.candidates.some((c) => c.passes),
      );
      assert.equal(r.answer, r.rewrite_success ? r.candidates.find((c) => c.passes)!.text : r.original);
    }
    const passing = candidates.filter((c) => c.passes);
    assert.equal(run.passRate, rows.filter((r) => r.rewrite_success).length / rows.length);
    assert.equal(run.samplePassRate, passing.length / candidates.length);
    assert.ok(run.passRate >= run.samplePassRate - 1e-12);
    const copies = rows.flatMap((r) => r.candidates.filter((c) => c.passes && c.text.trim() === r.original.trim()));
    assert.equal(run.copyRate, passing.length ? copies.length / passing.length : 0);
    assert.equal(run.truncated, candidates.filter((c) => c.finishReason === 'length').length);
    const summary = JSON.parse(readFileSync(store.resolve(`${run.uri}/summary.json`), 'utf8'));
    assert.equal(summary.passRate, run.passRate);
  }

  // the rewrites ran as device activities of the probe itself, after the pretrain child
  const handle = t.env.client.workflow.getHandle('rewriter-probe');
  const history = await handle.fetchHistory();
  const rewrites = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'rewriteDataset',
  );
  assert.equal(rewrites.length, 2);
  assert.ok(rewrites.every((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name === 'rewrite-rl-device-cpu'));
  const attrs = (await handle.describe()).typedSearchAttributes;
  assert.equal(attrs.getAll().find((p) => p.key.name === 'RewriteRlStage')?.value, 'done');
  assert.equal(attrs.getAll().find((p) => p.key.name === 'RewriteRlMetric')?.value, out.runs[0].passRate);

  const again = await t.env.client.workflow.execute<typeof rewriterProbe>('rewriterProbe', {
    taskQueue: TASK_QUEUE,
    workflowId: 'rewriter-probe-again',
    args: [input],
  });
  assert.deepEqual(
    again.runs.map((r) => [r.uri, r.reused]),
    out.runs.map((r) => [r.uri, true]),
  );
  assert.deepEqual(
    again.runs.map(({ reused: _r, ...rest }) => rest),
    out.runs.map(({ reused: _r, ...rest }) => rest),
  );
});

test('rewriterProbe: invalid input fails as InvalidInput before any activity or child runs', async () => {
  for (const [workflowId, args, pattern] of [
    [
      'rewriter-probe-negative',
      { recipe: 'test', temperatures: [-1] },
      /\$\.temperatures\[0\]: must be >= 0 \(minimum\)/,
    ],
    ['rewriter-probe-samples', { recipe: 'test', samples: 0 }, /\$\.samples: must be >= 1 \(minimum\)/],
    ['rewriter-probe-unknown', { recipe: 'test', temperature: 0.8 }, /\$\.temperature: is not a known field/],
  ] as const) {
    await assert.rejects(
      t.env.client.workflow.execute('rewriterProbe', { taskQueue: TASK_QUEUE, workflowId, args: [args] }),
      (e: Error) => {
        const cause = e.cause as Error & { type?: string };
        assert.equal(cause.type, 'InvalidInput');
        assert.match(cause.message, pattern);
        return true;
      },
    );
    const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
    assert.ok(
      (history.events ?? []).every(
        (e) => !e.activityTaskScheduledEventAttributes && !e.startChildWorkflowExecutionInitiatedEventAttributes,
      ),
      workflowId,
    );
  }
});

test('rewriterProbe: a training set the recipe lacks is invalid input', async () => {
  await assert.rejects(
    t.env.client.workflow.execute('rewriterProbe', {
      taskQueue: TASK_QUEUE,
      workflowId: 'rewriter-probe-missing-arm',
      args: [{ recipe: 'test', arm: 'oracle-25', limit: 16 }],
    }),
    (e: Error) => {
      const cause = e.cause as Error & { type?: string };
      assert.equal(cause.type, 'InvalidInput');
      assert.match(
        cause.message,
        /\$\.arm: the test recipe has no training set "oracle-25" \(it has foreign, oracle, oracle-50, oracle-90, oracle-95\)/,
      );
      return true;
    },
  );
});
