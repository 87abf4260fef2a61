// The rewriting policy's CPU activities: the run folder and its data split, the gate of a step's
// rollouts, one metrics line per step (a file per step, so a retry never writes a line twice), and
// the end of a run (metrics.jsonl, curves, checkpoint retention).
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gate } from '../method/gate';
import { isCopy, normalizedEditDistance } from '../method/rollout-stats';
import { scatterSvg, type PlotPoint } from '../method/svg-plot';
import type { GateInput, GateOutput, ModelRef } from '../schemas';
import { canonicalJson, sha256, sha256File, type ArtifactStore } from './artifact-store';
import { readJsonlRows, stageOnce, stepDir, writeJsonl } from './device/rewriter-files';
import type { StoredRollout } from './device/rewriter';
import { InputError } from './errors';

export interface PrepareRewriterRunInput {
  name: string;
  /** Everything that shapes the run (the resolved settings, seeds): with the data and weights, its identity. */
  config: Record<string, unknown>;
  backbone: ModelRef;
  dataset: string;
  /** A validation slice; absent = `validationSize` records held out of the dataset by hash. */
  validation?: string;
  validationSize: number;
}

export interface PrepareRewriterRunOutput {
  run: string;
  /** The RL prompts (the dataset less a held-out validation slice). */
  pool: string;
  poolSize: number;
  validation: string;
  validationSize: number;
  reused: boolean;
}

interface Row {
  id: string;
  question: string;
  answer: string;
}

async function readRows(store: ArtifactStore, uri: string): Promise<Row[]> {
  const rows = await readJsonlRows<Record<string, unknown>>(store, uri);
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
  const out = await stageOnce(store, `${run}/data`, async (write, _tmp, ref) => {
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
    await write('pool.jsonl', pool);
    await write('validation.jsonl', heldOut);
    await writeFile(join(_tmp, 'config.json'), JSON.stringify(input, null, 2) + '\n');
    return {
      run: store.ref(store.resolve(run)),
      pool: `${ref}/pool.jsonl`,
      poolSize: pool.length,
      validation: `${ref}/validation.jsonl`,
      validationSize: heldOut.length,
    };
  });
  return out;
}

export async function gateRollouts(store: ArtifactStore, input: GateInput): Promise<GateOutput> {
  return stageOnce(store, `${stepDir(input.run, input.step)}/gate`, async (write, _tmp, ref) => {
    const rows = await readJsonlRows<StoredRollout>(store, input.rollouts);
    const verdicts = rows.map((r) => {
      const v = gate(r.text, r.reference, input.gate);
      return {
        recordId: r.recordId,
        sample: r.sample,
        ...v,
        full: v.pass,
        copy: isCopy(r.text, r.reference),
        editDistance: normalizedEditDistance(r.text, r.reference),
      };
    });
    await write('verdicts.jsonl', verdicts);
    const share = (f: (v: (typeof verdicts)[number]) => boolean) => verdicts.filter(f).length / verdicts.length;
    return {
      uri: `${ref}/verdicts.jsonl`,
      answerPassRate: share((v) => v.answer),
      fullPassRate: share((v) => v.full),
      copyRate: share((v) => v.copy),
      editDistance: verdicts.reduce((s, v) => s + v.editDistance, 0) / verdicts.length,
    };
  });
}

export interface RecordStepInput {
  run: string;
  step: number;
  metrics: Record<string, unknown>;
  timings: Record<string, number>;
}

const stepFile = (run: string, kind: string, step: number) => `${run}/${kind}/${String(step).padStart(6, '0')}.json`;

/** One metrics line per step: the step's own file, written once (a retry finds it and writes nothing). */
export async function recordStep(store: ArtifactStore, input: RecordStepInput): Promise<{ metrics: string }> {
  for (const [kind, value] of [
    ['metrics', input.metrics],
    ['timings', input.timings],
  ] as const) {
    const ref = stepFile(input.run, kind, input.step);
    if (!existsSync(store.resolve(ref))) await store.writeFile(ref, JSON.stringify(value) + '\n');
  }
  return { metrics: stepFile(input.run, 'metrics', input.step) };
}

export interface FinishRewriterRunInput {
  run: string;
  /** Steps whose adapters are kept (best, last); every `keepEvery`th is kept too. */
  keep: number[];
  keepEvery: number;
}

export interface FinishRewriterRunOutput {
  metrics: string;
  timings: string;
  curves: string;
  kept: number[];
  removed: number[];
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
  const points: PlotPoint[] = [];
  for (const [path, label] of CURVES)
    for (const m of metrics) {
      const y = get(m, path);
      if (typeof y === 'number' && Number.isFinite(y)) points.push({ x: Number(m.step), y, label: '', series: label });
    }
  const svg = scatterSvg(points, { title: 'trainRewriter', xLabel: 'GRPO step', yLabel: 'value' });
  const cRef = `${input.run}/curves.svg`;
  await store.writeFile(cRef, svg, { overwrite: true });
  const steps = store.resolve(`${input.run}/steps`);
  const kept: number[] = [];
  const removed: number[] = [];
  if (existsSync(steps))
    for (const d of (await readdir(steps)).filter((f) => /^\d{6}$/.test(f)).sort()) {
      const step = Number(d);
      const adapter = join(steps, d, 'adapter');
      if (!existsSync(adapter)) continue;
      if (input.keep.includes(step) || step % input.keepEvery === 0) kept.push(step);
      else {
        await rm(adapter, { recursive: true, force: true });
        removed.push(step);
      }
    }
  return { metrics: mRef, timings: tRef, curves: cRef, kept, removed };
}

async function writeJsonlAtomic(store: ArtifactStore, ref: string, rows: unknown[]): Promise<void> {
  const tmp = `${ref}.tmp`;
  await writeJsonl(store.resolve(tmp), rows);
  await store.writeFile(ref, await readFile(store.resolve(tmp)), { overwrite: true });
  await rm(store.resolve(tmp), { force: true });
}
