import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeActivity, type RunningActivity } from '../temporal/running-work';

const a = (workflow: string, activity: string, details?: unknown, attempt = 1): RunningActivity => ({
  workflow,
  activity,
  details,
  attempt,
  started: true,
});

test("an activity's heartbeat as a short phrase: labels, step, count of total, loss, retries", () => {
  assert.equal(
    describeActivity(a('pretrain', 'sft', { step: 812, of: 2000, loss: 1.93 })),
    'pretrain sft step 812/2000 (loss 1.930)',
  );
  assert.equal(
    describeActivity(a('rewriter', 'rolloutGroup', { stage: 'rollout', step: 3, done: 12, of: 16 })),
    'rewriter rolloutGroup rollout step 3 12/16',
  );
  assert.equal(
    describeActivity(a('evaluate-base', 'evaluateBenchmark', { benchmark: 'general-arith', done: 120, of: 500 })),
    'evaluate-base evaluateBenchmark general-arith 120/500',
  );
  assert.equal(describeActivity(a('', 'scoreDataset', { scored: 64, of: 2000 })), 'scoreDataset scored 64/2000');
  assert.equal(
    describeActivity(a('', 'selfAlign', { phase: 'guided', generated: 5, of: 40 })),
    'selfAlign guided generated 5/40',
  );
  assert.equal(describeActivity(a('rewriter', 'update', { stage: 'update', step: 4 })), 'rewriter update step 4');
  // before the first heartbeat, or with only the start marker: the activity's name; a retry says so
  assert.equal(describeActivity(a('sft-vanilla-s0', 'sft', { stage: 'start' })), 'sft-vanilla-s0 sft');
  assert.equal(describeActivity(a('', 'armData', undefined, 3)), 'armData [attempt 3]');
});
