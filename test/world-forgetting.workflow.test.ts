// The main job's workflow end to end with the seconds-long test recipe: pretrain, the backbone NLL of
// each arm's SFT data, SFT arms, evaluation of the base and each arm, and the forgetting report with
// its dose-response and the reduction against foreign.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { schemas } from '../schemas';
import { TASK_QUEUE } from '../workers/settings';
import type { worldForgetting } from '../workflows/world-forgetting';
import { useTemporal } from './helpers/temporal';

const t = useTemporal({ device: true });

test('worldForgetting: pretrain, score and fine-tune two arms, evaluate three models, report forgetting', async () => {
  const out = await t.env.client.workflow.execute<typeof worldForgetting>('worldForgetting', {
    taskQueue: TASK_QUEUE,
    workflowId: 'world-forgetting',
    args: [{ recipe: 'test', arms: ['foreign', 'oracle'] }],
  });
  schemas.worldForgettingOutput.parse(out);
  assert.deepEqual(Object.keys(out.arms), ['foreign', 'oracle']);
  assert.equal(out.base.results.length, 6);
  assert.notDeepEqual(out.arms.foreign.model, out.arms.oracle.model);
  assert.match(out.report.markdown, /### Forgetting on the general benchmarks, strict extraction/);
  assert.match(out.report.markdown, /\| foreign \(forgetting\) \|/);
  assert.match(out.report.markdown, /\| oracle \| /);
  const store = new ArtifactStore(t.root);
  const json = JSON.parse(readFileSync(store.resolve(`${out.report.uri}/forgetting.json`), 'utf8'));
  assert.deepEqual(json.strict.benchmarks, ['arithmetic', 'comparison', 'strings', 'counting', 'facts']);

  // the dose: the backbone's mean NLL per answer token of each arm's SFT data, token-weighted, better
  // than a uniform guess over the 259 byte-level tokens
  assert.deepEqual(Object.keys(out.nll), ['foreign', 'oracle']);
  for (const v of Object.values(out.nll)) assert.ok(v > 0 && v < Math.log(259), `NLL ${v}`);
  assert.ok(out.nll.oracle < out.nll.foreign, 'the own style is more natural to the backbone than the foreign one');
  const scored = readdirSync(store.resolve('artifact://scores'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('nll.jsonl'))
    .map((f) => {
      const rows = readFileSync(join(store.resolve('artifact://scores'), f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { tokens: number; nll: number });
      return rows.reduce((s, r) => s + r.nll * r.tokens, 0) / rows.reduce((s, r) => s + r.tokens, 0);
    });
  assert.equal(scored.length, 2);
  for (const v of Object.values(out.nll))
    assert.ok(
      scored.some((x) => Math.abs(x - v) < 1e-9),
      `${v} in ${scored}`,
    );

  // the dose-response: arms by NLL, with their mean forgetting from the forgetting tables
  const mean = (kind: 'strict' | 'lenient', arm: string) =>
    json[kind].rows.find((r: { arm: string }) => r.arm === arm).mean as { value: number; low: number; high: number };
  const dr = out.report.doseResponse!;
  const byNll = (['foreign', 'oracle'] as const).slice().sort((a, b) => out.nll[a] - out.nll[b]);
  assert.deepEqual(
    dr.rows.map((r) => r.arm),
    byNll,
  );
  for (const r of dr.rows) {
    assert.equal(r.nll, out.nll[r.arm]);
    assert.deepEqual(r.forgetting, { strict: mean('strict', r.arm), lenient: mean('lenient', r.arm) });
    assert.deepEqual(r.downstream.shop, json.downstream.shop[r.arm]);
  }
  assert.deepEqual(json.doseResponse, JSON.parse(JSON.stringify(dr)));
  const svg = readFileSync(store.resolve(dr.svg), 'utf8');
  for (const arm of ['foreign', 'oracle'])
    for (const kind of ['strict', 'lenient'])
      assert.match(svg, new RegExp(`aria-label="${arm} \\(${kind} extraction\\)"[^>]*aria-roledescription="point"`));
  assert.ok(!/NaN|Infinity/.test(svg));
  assert.match(out.report.markdown, /### Dose-response: forgetting against the backbone NLL of the SFT data/);
  for (const r of dr.rows)
    assert.match(out.report.markdown, new RegExp(`\\| ${r.arm} \\| ${r.nll.toFixed(4)} \\| -?\\d+\\.\\d \\[`));

  // oracle against vanilla SFT (foreign), paired: the difference of their mean forgetting
  assert.equal(out.report.reduction!.reference, 'foreign');
  const [red] = out.report.reduction!.rows;
  assert.equal(red.arm, 'oracle');
  for (const kind of ['strict', 'lenient'] as const) {
    const expected = mean(kind, 'foreign').value - mean(kind, 'oracle').value;
    assert.ok(Math.abs(red[kind].value - expected) < 1e-9, `${kind}: ${red[kind].value} vs ${expected}`);
    assert.ok(red[kind].low <= red[kind].value && red[kind].value <= red[kind].high);
  }
  assert.match(out.report.markdown, /### Forgetting reduction vs foreign\n\n\| arm \| reduction strict /);

  // the scoring ran as two device activities of the main workflow itself
  const history = await t.env.client.workflow.getHandle('world-forgetting').fetchHistory();
  const scoring = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scoreDataset',
  );
  assert.equal(scoring.length, 2);
  assert.ok(scoring.every((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name === 'rewrite-rl-device-cpu'));
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

test('worldForgetting with another data seed: the same backbone, another sample of the downstream train split', async () => {
  const run = (workflowId: string, dataSeed?: number) =>
    t.env.client.workflow.execute<typeof worldForgetting>('worldForgetting', {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [{ recipe: 'test', arms: ['foreign'], ...(dataSeed !== undefined ? { dataSeed } : {}) }],
    });
  const own = await run('world-forgetting-data-0');
  const other = await run('world-forgetting-data-1', 1);
  assert.deepEqual(other.backbone, own.backbone);
  assert.deepEqual(other.base.results, own.base.results);
  const trainedOn = async (workflowId: string) => {
    const history = await t.env.client.workflow.getHandle(`${workflowId}/sft-foreign`).fetchHistory();
    const started = history.events![0].workflowExecutionStartedEventAttributes!;
    return (JSON.parse(Buffer.from(started.input!.payloads![0].data!).toString('utf8')) as { dataset: string }).dataset;
  };
  const ownSet = await trainedOn('world-forgetting-data-0');
  const otherSet = await trainedOn('world-forgetting-data-1');
  assert.match(otherSet, /^artifact:\/\/world\/test-[0-9a-f]{12}-data1\/downstream\/train-foreign\.jsonl$/);
  assert.equal(otherSet.replace('-data1/', '/'), ownSet);
  const store = new ArtifactStore(t.root);
  const questions = (ref: string) =>
    readFileSync(store.resolve(ref), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { question: string }).question);
  assert.notDeepEqual(questions(otherSet), questions(ownSet));
  assert.notDeepEqual(other.arms.foreign.model, own.arms.foreign.model);
});

test('worldForgetting: an arm the recipe has no training set for is invalid input, not a retried failure', async () => {
  await assert.rejects(
    t.env.client.workflow.execute('worldForgetting', {
      taskQueue: TASK_QUEUE,
      workflowId: 'world-forgetting-missing-arm',
      args: [{ recipe: 'test', arms: ['foreign', 'oracle-25'] }],
    }),
    (e: Error) => {
      const cause = e.cause as Error & { type?: string };
      assert.equal(cause.type, 'InvalidInput');
      assert.match(
        cause.message,
        /\$\.arms\[1\]: the test recipe has no training set "oracle-25" \(it has foreign, oracle, oracle-50, oracle-90, oracle-95\)/,
      );
      return true;
    },
  );
});
