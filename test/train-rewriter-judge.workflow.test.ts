// trainRewriter with the gate's judge on (checks: answer and judge), on a real dev server with real
// workers and the tiny random model: every step runs the judge stage between rollout and gate, every
// rollout's verdict records the judge's P(YES) and P(NO), and the validations judge their rewrites too.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { schemas } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import type { TrainRewriterOutput } from '../workflows/train-rewriter';
import { metricLines, tinyRewriterInput } from './helpers/rewriter';
import { useTemporal } from './helpers/temporal';

/** A judge prompt short enough for the tiny model (the default one holds the whole instruction). */
const JUDGE_PROMPT = 'Problem:\n{question} | {reference} | {candidate}\n\nAnswer:\n';

let base: Record<string, unknown>;
const t = useTemporal({
  device: true,
  setup: async ({ root }) => {
    base = await tinyRewriterInput(root, 8, {
      steps: 2,
      validation: { every: 2, samples: 2, limit: 3 },
      gate: { checks: ['answer', 'judge'], judgePrompt: JUDGE_PROMPT },
    });
  },
});

/** The rows of `file` in the stage `name` of a step's folder. */
function stageFile(run: string, step: number, name: string, file: string) {
  const dir = join(run, 'steps', String(step).padStart(6, '0'));
  const d = readdirSync(dir).find((f) => f.startsWith(`${name}-`));
  assert.ok(d, `step ${step} has a ${name} stage`);
  return readJsonl(join(dir, d, file));
}

const readJsonl = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('with the judge on, each step judges its rollouts before the gate, and every verdict records the judge', async () => {
  const handle = await t.env.client.workflow.start('trainRewriter', {
    taskQueue: TASK_QUEUE,
    workflowId: 'tr-judge',
    args: [{ ...base, name: 'judge' }],
  });
  const out = (await handle.result()) as TrainRewriterOutput;
  schemas.trainRewriterOutput.parse(out);
  assert.equal(out.steps, 2);
  const store = new ArtifactStore(t.root);
  const metrics = metricLines(t.root, out) as unknown as Record<string, number>[];
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  const run = store.resolve(out.run);
  for (const m of metrics) {
    assert.equal(typeof m.judgePassRate, 'number', `step ${m.step}: ${JSON.stringify(m)}`);
    // the full pass needs the judge's YES
    assert.ok(m.fullPassRate <= m.judgePassRate);
    const rollouts = stageFile(run, m.step, 'rollouts', 'rollouts.jsonl');
    const judgments = stageFile(run, m.step, 'judge', 'judgments.jsonl');
    const verdicts = stageFile(run, m.step, 'gate', 'verdicts.jsonl');
    assert.equal(judgments.length, rollouts.length);
    assert.equal(verdicts.length, rollouts.length);
    for (const [i, v] of verdicts.entries()) {
      const j = judgments[i];
      assert.deepEqual([j.recordId, j.sample], [rollouts[i].recordId, rollouts[i].sample]);
      assert.equal(typeof j.pYes, 'number');
      assert.equal(j.pass, (j.pYes as number) >= (j.pNo as number));
      assert.deepEqual([v.judge, v.pYes, v.pNo], [j.pass, j.pYes, j.pNo]);
      assert.equal(v.full, v.answer === true && j.pass === true);
      if (!j.pass) assert.match((v.reasons as string[]).join('\n'), /judge: NO/);
    }
  }
  // the validations (steps 0 and 2) judged the greedy and the sampled rewrites
  assert.deepEqual(
    out.validations.map((v) => v.step),
    [0, 2],
  );
  for (const step of [0, 2])
    for (const row of stageFile(run, step, 'validation', 'validation.jsonl')) {
      const all = [row.greedy, ...(row.samples as unknown[])] as { judge: { pass: boolean }; full: boolean }[];
      assert.equal(all.length, 3);
      for (const r of all) {
        assert.equal(typeof r.judge.pass, 'boolean');
        if (!r.judge.pass) assert.equal(r.full, false);
      }
    }
  // the history holds the judge activity between rollout and gate, behind its patch
  const events = (await handle.fetchHistory()).events ?? [];
  const activities = events.flatMap((e) => {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
  const step = activities.slice(activities.indexOf('rollout'), activities.indexOf('update') + 1);
  assert.deepEqual(step, ['rollout', 'judge', 'gate', 'reward', 'update']);
  assert.ok(events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch'));
  const timings = readJsonl(store.resolve(out.timings));
  for (const tm of timings) assert.equal(typeof tm['activity.judge'], 'number');
});
