// The pipeline's ETA: stages that wait for one device are costed by what they added, not by their wait.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etaMs } from '../workflows/pipeline-eta';

type State = 'pending' | 'running' | 'done';
const stage = (name: string, state: State, startedAt?: number, ms?: number) => ({ name, state, startedAt, ms });
const MIN = 60_000;

test('four SFT stages started together on one device: the first ends at 10 min, so 30 remain', () => {
  const stages = [
    stage('sft:a:s0', 'done', 0, 10 * MIN),
    stage('sft:b:s0', 'running', 0),
    stage('sft:c:s0', 'running', 0),
    stage('sft:d:s0', 'running', 0),
  ];
  assert.equal(etaMs(stages, 10 * MIN), 30 * MIN);
  // five minutes into the second: 25 remain
  assert.equal(etaMs(stages, 15 * MIN), 25 * MIN);
});

test('each kind by its own cost; a kind not yet seen by the mean of all', () => {
  const stages = [
    stage('data:a:s0', 'done', 0, 2 * MIN),
    // waited 2 min behind data:a, then ran 6
    stage('sft:a:s0', 'done', 0, 8 * MIN),
    stage('sft:b:s0', 'pending'),
    stage('evaluate:a:s0', 'pending'),
  ];
  // sft:b costs 6; evaluate has no finished stage yet: the mean of 2 and 6
  assert.equal(etaMs(stages, 8 * MIN), 6 * MIN + 4 * MIN);
});

test('no estimate before a stage has finished; none left when everything is done', () => {
  assert.equal(etaMs([stage('data:a:s0', 'running', 0)], MIN), undefined);
  assert.equal(etaMs([stage('data:a:s0', 'done', 0, MIN)], 2 * MIN), 0);
});
