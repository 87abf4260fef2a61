// The pretrain workflow with the seconds-long test recipe: world data, untrained backbone, pretraining;
// a second run reuses everything.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { loadHFModel } from '../engine/model';
import { schemas } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import { useTemporal } from './helpers/temporal';

const t = useTemporal({ device: true });

test('pretrain builds the world and a backbone once, then reuses them', async () => {
  const store = new ArtifactStore(t.root);
  const run = (id: string) =>
    t.env.client.workflow.execute('pretrain', { taskQueue: TASK_QUEUE, workflowId: id, args: [{ recipe: 'test' }] });
  const first = await run('pretrain-1');
  // the output is what its schema says (schemas/json/pretrain-output.schema.json)
  schemas.pretrainOutput.parse(first);
  assert.equal(first.world.reused, false);
  assert.equal(first.pretraining.reused, false);
  assert.equal(first.pretraining.examples, 256);
  assert.equal(first.pretraining.steps, 16);
  assert.ok(first.pretraining.finalLoss < first.pretraining.firstLoss, JSON.stringify(first.pretraining));
  assert.deepEqual(
    first.world.benchmarks.map((b: { name: string }) => b.name),
    ['arithmetic', 'comparison', 'strings', 'counting', 'facts', 'shop'],
  );
  assert.deepEqual(Object.keys(first.world.train).sort(), ['foreign', 'oracle', 'oracle-50', 'oracle-90', 'oracle-95']);
  const backbone = await loadHFModel(store.resolve(first.backbone.uri));
  assert.equal(backbone.config.vocabSize, 259);
  assert.equal(backbone.tokenizer?.decode(backbone.tokenizer.encode('Answer:\n\\boxed{7}')), 'Answer:\n\\boxed{7}');
  assert.ok(existsSync(store.resolve(`${first.world.uri}/manifest.json`)));
  const corpus = readFileSync(store.resolve(first.world.pretrainData), 'utf8').trim().split('\n');
  assert.equal(corpus.length, 256);

  const second = await run('pretrain-2');
  assert.equal(second.world.reused, true);
  assert.equal(second.pretraining.reused, true);
  assert.deepEqual(second.backbone, first.backbone);
});

test("pretrain's overrides (the packed step) train another backbone of the same world, to the same losses", async () => {
  const run = (id: string, args: object) =>
    t.env.client.workflow.execute('pretrain', {
      taskQueue: TASK_QUEUE,
      workflowId: id,
      args: [{ recipe: 'test', ...args }],
    });
  const padded = await run('pretrain-padded', {});
  const packed = await run('pretrain-packed', { pretrain: { packed: true } });
  assert.equal(packed.world.uri, padded.world.uri);
  assert.equal(packed.pretraining.reused, false);
  assert.notEqual(packed.backbone.uri, padded.backbone.uri);
  assert.equal(packed.pretraining.steps, padded.pretraining.steps);
  // the same examples and start: the packed stream's token-mean loss is the padded one's up to rounding
  assert.ok(
    Math.abs(packed.pretraining.firstLoss - padded.pretraining.firstLoss) < 1e-4,
    JSON.stringify([packed, padded]),
  );
  assert.ok(
    Math.abs(packed.pretraining.finalLoss - padded.pretraining.finalLoss) < 1e-2,
    JSON.stringify([packed, padded]),
  );
});
