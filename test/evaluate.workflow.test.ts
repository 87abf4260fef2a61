// The evaluate workflow on a real dev server, with the CPU worker and a device-pinned worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TASK_QUEUE } from '../workers/settings';
import { METRIC } from '../workflows/search-attributes';
import { putBenchmark, putTinyModel } from './helpers/model';
import { useTemporal } from './helpers/temporal';

const t = useTemporal({ device: true });

test('evaluates a suite on the device worker and sums it up', async () => {
  const model = { uri: await putTinyModel(t.root) };
  const benchmarks = [
    { name: 'a', data: await putBenchmark(t.root, 'a', 5), extractor: { kind: 'boxed' }, maxNewTokens: 4 },
    { name: 'b', data: await putBenchmark(t.root, 'b', 4), extractor: { kind: 'last-number' }, maxNewTokens: 4 },
    {
      name: 'down',
      role: 'downstream',
      data: await putBenchmark(t.root, 'down', 3),
      extractor: { kind: 'boxed' },
      maxNewTokens: 4,
    },
  ];
  const handle = await t.env.client.workflow.start('evaluate', {
    taskQueue: TASK_QUEUE,
    workflowId: 'evaluate-suite',
    args: [{ model, benchmarks, batchSize: 2 }],
  });
  const out = await handle.result();
  assert.deepEqual(
    out.results.map((r: { benchmark: string; role: string; items: number }) => [r.benchmark, r.role, r.items]),
    [
      ['a', 'general', 5],
      ['b', 'general', 4],
      ['down', 'downstream', 3],
    ],
  );
  assert.equal(out.general.strict, (out.results[0].strict + out.results[1].strict) / 2);
  assert.equal(out.downstream.lenient, out.results[2].lenient);
  assert.equal((await handle.describe()).typedSearchAttributes.get(METRIC), out.general.strict);
});

test('invalid input fails before any activity: a bad extractor and a benchmark listed twice', async () => {
  const model = { uri: 'artifact://models/x' };
  const bench = { name: 'a', data: 'artifact://bench/a.jsonl', extractor: { kind: 'boxed' } };
  for (const [benchmarks, pattern] of [
    [
      [{ ...bench, extractor: { kind: 'magic' } }],
      /\$\.benchmarks\[0\]\.extractor\.kind: must be equal to one of the allowed values/,
    ],
    [[bench, bench], /\$\.benchmarks\[1\]\.name: "a" is listed twice \(unique\)/],
  ] as const) {
    const handle = await t.env.client.workflow.start('evaluate', {
      taskQueue: TASK_QUEUE,
      workflowId: `evaluate-bad-${benchmarks.length}`,
      args: [{ model, benchmarks }],
    });
    const err = await handle.result().catch((e) => e);
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
    assert.equal(err.cause.type, 'InvalidInput');
    assert.match(err.cause.message, pattern);
  }
});
