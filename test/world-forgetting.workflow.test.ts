// The main job's workflow end to end with the seconds-long test recipe: pretrain, SFT arms,
// evaluation of the base and each arm, and the forgetting report.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { TASK_QUEUE } from '../temporal/settings';
import { useTemporal } from './helpers/temporal';

const t = useTemporal({ device: true });

test('worldForgetting: pretrain, fine-tune two arms, evaluate three models, report forgetting', async () => {
  const out = await t.env.client.workflow.execute('worldForgetting', {
    taskQueue: TASK_QUEUE,
    workflowId: 'world-forgetting',
    args: [{ recipe: 'test', arms: ['foreign', 'oracle'] }],
  });
  assert.deepEqual(Object.keys(out.arms), ['foreign', 'oracle']);
  assert.equal(out.base.results.length, 6);
  assert.notDeepEqual(out.arms.foreign.model, out.arms.oracle.model);
  assert.match(out.report.markdown, /### Forgetting on the general benchmarks, strict extraction/);
  assert.match(out.report.markdown, /\| foreign \(forgetting\) \|/);
  assert.match(out.report.markdown, /\| oracle \| /);
  const json = JSON.parse(readFileSync(new ArtifactStore(t.root).resolve(`${out.report.uri}/forgetting.json`), 'utf8'));
  assert.deepEqual(json.strict.benchmarks, ['arithmetic', 'comparison', 'strings', 'counting', 'facts']);
  const children = [];
  for await (const w of t.env.client.workflow.list({ query: `WorkflowId STARTS_WITH "world-forgetting/"` }))
    children.push(w.workflowId);
  assert.deepEqual(children.sort(), [
    'world-forgetting/evaluate-base',
    'world-forgetting/evaluate-foreign',
    'world-forgetting/evaluate-oracle',
    'world-forgetting/pretrain',
    'world-forgetting/sft-foreign',
    'world-forgetting/sft-oracle',
  ]);
});
