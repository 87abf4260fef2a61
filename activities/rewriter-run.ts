// The rewriting policy's CPU activities: the run folder and its data split, the gate of a step's
// rollouts, one metrics line per step (a file per step, so a retry never writes a line twice), and
// the end of a run (metrics.jsonl, curves, checkpoint retention).
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gate, judgeOn } from '../method/gate';
import { isCopy, normalizedEditDistance } from '../method/rollout-stats';
import { lineChart, renderVegaLite, type Series } from '../method/figures';
import {
  schemas,
  type FinishRewriterRunOutput,
  type GateInput,
  type GateOutput,
  type PrepareRewriterRunOutput,
  type RecordStepOutput,
  type PrepareRewriterRunInput,
  type RecordStepInput,
  type FinishRewriterRunInput,
} from '../schemas';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from './artifact-store';
import type { StoredJudgment } from './device/judge';
import type { StoredRollout } from './device/rewriter';
import { InputError } from './errors';
import { dataInput, readJsonl } from './records';
import { writeJsonl } from '../engine/line-writer';
import { stageRows, stepStage } from './rewriter-stage';
import { stage } from './stage';

// the output's type comes from its schema (schemas/json); exported here beside the code that makes it
export type { PrepareRewriterRunOutput, FinishRewriterRunOutput };

export type { PrepareRewriterRunInput, RecordStepInput, FinishRewriterRunInput };

interface Row {
  id: string;
  question: string;
  answer: string;
}

async function readRows(store: ArtifactStore, uri: string): Promise<Row[]> {
  const rows = await readJsonl<Record<string, unknown>>((await dataInput(store, uri)).path, uri);
  rows.forEach((r, i) => {
    for (const f of ['id', 'question', 'answer'])
      if (typeof r[f] !== 'string' || r[f] === '')
        throw new InputError(`${uri}:${i + 1}: ${f}: must be a non-empty string`);
  });
  if (!rows.length) throw new InputError(`${uri}: no records`);
  return rows as unknown as Row[];
}

export async function prepareRewriterRun(
  store: ArtifactStore,
  input: PrepareRewriterRunInput,
): Promise<PrepareRewriterRunOutput> {
  const weights = store.resolve(input.backbone.uri);
  const hashes: string[] = [];
  for (const f of ['config.json', 'model.safetensors', 'model.safetensors.index.json'])
    if (existsSync(join(weights, f))) hashes.push(await sha256File(join(weights, f)));
  const data = await sha256File(store.resolve(input.dataset));
  const val = input.validation ? await sha256File(store.resolve(input.validation)) : null;
  const key = sha256(canonicalJson({ config: input.config, hashes, data, val, n: input.validationSize })).slice(0, 16);
  const run = `rewriter/${input.name}-${key}`;
  const spec = { kind: 'rewriter-run-data', dir: run, name: 'data', key: { data, val, n: input.validationSize } };
  const out = await stage(store, spec, async ({ tmp, uri }) => {
    const rows = await readRows(store, input.dataset);
    let pool = rows;
    let heldOut: Row[];
    if (input.validation) {
      heldOut = await readRows(store, input.validation);
      const ids = new Set(heldOut.map((r) => r.id));
      pool = rows.filter((r) => !ids.has(r.id));
    } else {
      // the records whose id hashes lowest: a fixed slice that no RL prompt comes from
      const order = [...rows].sort((a, b) => (sha256(a.id) < sha256(b.id) ? -1 : 1));
      heldOut = order.slice(0, input.validationSize);
      const ids = new Set(heldOut.map((r) => r.id));
      pool = rows.filter((r) => !ids.has(r.id));
    }
    if (!pool.length) throw new InputError(`dataset: ${input.dataset} has no records left for RL after validation`);
    await writeJsonl(join(tmp, 'pool.jsonl'), pool);
    await writeJsonl(join(tmp, 'validation.jsonl'), heldOut);
    await writeFile(join(tmp, 'config.json'), JSON.stringify(input, null, 2) + '\n');
    return {
      run: store.ref(store.resolve(run)),
      pool: `${uri}/pool.jsonl`,
      poolSize: pool.length,
      validation: `${uri}/validation.jsonl`,
      validationSize: heldOut.length,
    };
  });
  const { uri: _uri, ...result } = out;
  return schemas.prepareRewriterRunOutput.parse(result);
}

export async function gateRollouts(store: ArtifactStore, input: GateInput): Promise<GateOutput> {
  const rollouts = await stageRows<StoredRollout>(store, input.rollouts, 'rollouts');
  if (judgeOn(input.gate) && !input.judgments)
    throw new InputError(
      `gate of step ${input.step}: the gate config turns the judge on, but no judgments were given (the judge stage's judgments.jsonl)`,
    );
  // the judge's verdicts (a device stage before this one) are read only when the judge is on
  const judgmentRows = judgeOn(input.gate)
    ? await stageRows<StoredJudgment>(store, input.judgments!, 'judgments')
    : undefined;
  const spec = {
    run: input.run,
    step: input.step,
    name: 'gate',
    kind: 'rewriter-verdicts',
    // keyed as before when the judge is off, so earlier runs' verdicts are found again
    key: {
      rollouts: rollouts.input.sha256,
      gate: input.gate,
      ...(judgmentRows ? { judgments: judgmentRows.input.sha256 } : {}),
    },
    inputs: [rollouts.input, ...(judgmentRows ? [judgmentRows.input] : [])].map((d) => ({
      uri: d.uri,
      sha256: d.sha256,
    })),
  };
  return stepStage(store, spec, 'verdicts.jsonl', async (write) => {
    const rows = await rollouts.read();
    const judgments = judgmentRows ? await judgmentRows.read() : undefined;
    if (judgments && judgments.length !== rows.length)
      throw new InputError(`${input.judgments}: ${judgments.length} judgments for ${rows.length} rollouts`);
    const wrong = judgments?.findIndex((j, i) => j.recordId !== rows[i].recordId || j.sample !== rows[i].sample) ?? -1;
    if (wrong !== -1)
      throw new InputError(
        `${input.judgments}:${wrong + 1}: recordId/sample: not the judgment of rollout ${rows[wrong].recordId}#${rows[wrong].sample}`,
      );
    const verdicts = rows.map((r, i) => {
      const j = judgments?.[i];
      const v = gate(r.text, r.reference, input.gate, j);
      return {
        recordId: r.recordId,
        sample: r.sample,
        ...v,
        full: v.pass,
        copy: isCopy(r.text, r.reference),
        editDistance: normalizedEditDistance(r.text, r.reference),
        ...(j ? { pYes: j.pYes, pNo: j.pNo } : {}),
      };
    });
    await write(verdicts);
    const share = (f: (v: (typeof verdicts)[number]) => boolean) => verdicts.filter(f).length / verdicts.length;
    return {
      answerPassRate: share((v) => v.answer),
      fullPassRate: share((v) => v.full),
      copyRate: share((v) => v.copy),
      editDistance: verdicts.reduce((s, v) => s + v.editDistance, 0) / verdicts.length,
      ...(judgments ? { judgePassRate: share((v) => v.judge === true) } : {}),
    };
  });
}

const stepFile = (run: string, kind: string, step: number) => `${run}/${kind}/${String(step).padStart(6, '0')}.json`;

/** One metrics line per step: the step's own file, written once (a retry finds it and writes nothing). */
export async function recordStep(store: ArtifactStore, input: RecordStepInput): Promise<RecordStepOutput> {
  for (const [kind, value] of [
    ['metrics', input.metrics],
    ['timings', input.timings],
  ] as const) {
    const ref = stepFile(input.run, kind, input.step);
    if (!existsSync(store.resolve(ref))) await store.writeFile(ref, JSON.stringify(value) + '\n');
  }
  return { metrics: stepFile(input.run, 'metrics', input.step) };
}

async function collect(store: ArtifactStore, run: string, kind: string): Promise<Record<string, unknown>[]> {
  const dir = store.resolve(`${run}/${kind}`);
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir)).filter((f) => /^\d{6}\.json$/.test(f)).sort();
  return Promise.all(
    files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as Record<string, unknown>),
  );
}

const CURVES: [string, string][] = [
  ['fullPassRate', 'full pass rate (rollouts)'],
  ['answerPassRate', 'answer-only pass rate (rollouts)'],
  ['rewardMean', 'mean reward'],
  ['feasibleNll', 'backbone NLL of feasible rewrites'],
  ['val.greedyFullPassRate', 'validation: greedy full pass rate'],
  ['val.kFullPassRate', 'validation: k-sample full pass rate'],
];

const get = (m: Record<string, unknown>, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), m);

/** metrics.jsonl and timings.jsonl from the per-step files, the curves, and the retention policy. */
export async function finishRewriterRun(
  store: ArtifactStore,
  input: FinishRewriterRunInput,
): Promise<FinishRewriterRunOutput> {
  const metrics = await collect(store, input.run, 'metrics');
  const timings = await collect(store, input.run, 'timings');
  const mRef = `${input.run}/metrics.jsonl`;
  const tRef = `${input.run}/timings.jsonl`;
  await writeJsonlAtomic(store, mRef, metrics);
  await writeJsonlAtomic(store, tRef, timings);
  const series: Series[] = CURVES.map(([path, name]) => ({
    name,
    points: metrics.flatMap((m) => {
      const y = get(m, path);
      return typeof y === 'number' && Number.isFinite(y) ? [{ x: Number(m.step), y }] : [];
    }),
  })).filter((c) => c.points.length > 0);
  const svg = series.length
    ? await renderVegaLite(lineChart(series, { title: 'trainRewriter', xLabel: 'GRPO step', yLabel: 'value' }))
    : undefined;
  const cRef = `${input.run}/curves.svg`;
  // a run of no steps has no curve: no figure, rather than an empty one
  if (svg) await store.writeFile(cRef, svg, { overwrite: true });
  const steps = store.resolve(`${input.run}/steps`);
  const kept: number[] = [];
  const removed: number[] = [];
  if (existsSync(steps))
    for (const d of (await readdir(steps)).filter((f) => /^\d{6}$/.test(f)).sort()) {
      const step = Number(d);
      // `adapter-<key>`: the update's stage output (`adapter` alone: a run from before stages were keyed)
      const adapters = (await readdir(join(steps, d))).filter((f) => f === 'adapter' || f.startsWith('adapter-'));
      if (!adapters.length) continue;
      if (input.keep.includes(step) || step % input.keepEvery === 0) kept.push(step);
      else {
        for (const a of adapters) await rm(join(steps, d, a), { recursive: true, force: true });
        removed.push(step);
      }
    }
  return schemas.finishRewriterRunOutput.parse({ metrics: mRef, timings: tRef, curves: cRef, kept, removed });
}

/** Rewritten whole each time (a run finished again after more steps): the store's atomic write. */
async function writeJsonlAtomic(store: ArtifactStore, ref: string, rows: unknown[]): Promise<void> {
  await store.writeFile(ref, rows.map((r) => JSON.stringify(r) + '\n').join(''), { overwrite: true });
}
