// pipelineReport: the pipeline's last stage. Reads, by reference, every run's evaluations (per-item
// predictions), each arm's SFT data and its backbone score, and the rewriter's metrics; computes the
// statistics fixed before the runs (method/statistics.ts: per run the paired bootstrap, across the
// runs of one backbone the hierarchical one) and each arm's data statistics (method/data-stats.ts);
// writes report.json, report.md and report.html (figures inline) under reports/<name>-<key>/, once.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataStats, type DataStats, type SftRecord } from '../method/data-stats';
import { pooledReport, type RunScores } from '../method/statistics';
import {
  schemas,
  type PipelineReportInput,
  type PipelineReportInputInput,
  type PipelineReportOutput,
  type RunReport,
} from '../schemas';
import { canonicalJson, sha256, type ArtifactStore } from './artifact-store';
import { breathe } from './breathe';
import { InputError } from './errors';
import { scoresOf, type Evaluation } from './forgetting-report';
import { writeManifest } from './manifest';
import { renderReport, type Mixture, type RewriteSample, type ReportModel } from './pipeline-report-render';
import { readJsonl } from './records';

/** Bumped when the report's files change, so an older report folder is not returned for the same input. */
const REPORT_FORMAT = 3;

// The report runs on the CPU worker's event loop beside the workflows' activations: between the
// heavier steps (an arm's data statistics, a bootstrap) it lets the loop run (breathe).

type Extraction = 'strict' | 'lenient';

export type { RunReport };

export type { PipelineReportOutput };
export type GroupReport = PipelineReportOutput['groups'][number];

export async function pipelineReport(
  store: ArtifactStore,
  given: PipelineReportInputInput,
): Promise<PipelineReportOutput> {
  const input = schemas.pipelineReportInput.parse(given);
  // the key is the content: whether an evaluation was reused by its own stage is not (a rerun of the
  // pipeline passes the same evaluations back flagged reused, and must find this report)
  const content = JSON.parse(JSON.stringify(input, (k, v: unknown) => (k === 'reused' ? undefined : v)));
  const key = sha256(canonicalJson({ format: REPORT_FORMAT, input: content })).slice(0, 16);
  const ref = `reports/${input.name}-${key}`;
  const path = store.resolve(ref);
  const files = { json: `${ref}/report.json`, markdown: `${ref}/report.md`, html: `${ref}/report.html` };
  const uri = store.ref(path);
  // a complete report is returned as it is: the statistics are seeded, the inputs content-addressed
  if (existsSync(join(path, 'report.json'))) {
    // a stored report crosses back into the workflow as this activity's output: checked against its schema
    const done = schemas.reportModel.parse(JSON.parse(await readFile(join(path, 'report.json'), 'utf8')));
    return { uri, ...refs(store, files), fallback: done.fallback, groups: done.groups, reused: true };
  }
  const model = await buildModel(store, input);
  const rendered = await renderReport(model);
  await store.writeDir(ref, async (tmp) => {
    await writeFile(join(tmp, 'report.json'), JSON.stringify(model, null, 2) + '\n');
    await writeFile(join(tmp, 'report.md'), rendered.markdown);
    await writeFile(join(tmp, 'report.html'), rendered.html);
    for (const [name, svg] of Object.entries(rendered.figures)) await writeFile(join(tmp, name), svg);
    await writeManifest(tmp, {
      kind: 'pipeline-report',
      config: input,
      seeds: { bootstrap: input.seed },
      inputs: [],
      files: ['report.json', 'report.md', 'report.html', ...Object.keys(rendered.figures)],
    });
  });
  return { uri, ...refs(store, files), fallback: input.fallback, groups: model.groups, reused: false };
}

const refs = (store: ArtifactStore, files: Record<'json' | 'markdown' | 'html', string>) =>
  Object.fromEntries(Object.entries(files).map(([k, v]) => [k, store.ref(store.resolve(v))])) as Record<
    'json' | 'markdown' | 'html',
    string
  >;

async function buildModel(store: ArtifactStore, input: PipelineReportInput): Promise<ReportModel> {
  const runs = input.runs;
  const general = benchmarksOf(runs[0].base, 'general');
  const downstream = benchmarksOf(runs[0].base, 'downstream');
  if (general.length === 0) throw new InputError('runs[0].base: no general benchmark to measure forgetting on');
  const opts = { resamples: input.resamples, seed: input.seed };

  const perRun: RunReport[] = [];
  const scores: { backbone: string; strict: RunScores; lenient: RunScores }[] = [];
  const data: { backbone: string; seed: number; arm: string; stats: DataStats }[] = [];
  const empty: ReportModel['empty'] = [];
  for (const [i, run] of runs.entries()) {
    const at = `runs[${i}]`;
    for (const [arm, e] of Object.entries(run.empty ?? {})) {
      if (run.arms[arm]) throw new InputError(`${at}.empty.${arm}: is also in ${at}.arms`);
      empty.push({ backbone: run.backbone, seed: run.seed, arm, records: e.records });
    }
    for (const [role, names] of [
      ['general', general],
      ['downstream', downstream],
    ] as const)
      if (canonicalJson(benchmarksOf(run.base, role)) !== canonicalJson(names))
        throw new InputError(
          `${at}.base: ${role} benchmarks ${benchmarksOf(run.base, role).join(', ')}, runs[0] has ${names.join(', ')}`,
        );
    const base = await scoresOf(store, run.base as Evaluation, `${at}.base`);
    const arms: Record<string, Record<Extraction, RunScores['base']>> = {};
    for (const [arm, a] of Object.entries(run.arms)) {
      arms[arm] = await scoresOf(store, a.evaluation as Evaluation, `${at}.arms.${arm}.evaluation`);
      data.push({ backbone: run.backbone, seed: run.seed, arm, stats: await armData(store, a, `${at}.arms.${arm}`) });
      await breathe();
    }
    const of = (x: Extraction): RunScores => ({
      base: base[x],
      arms: Object.fromEntries(Object.entries(arms).map(([k, v]) => [k, v[x]])),
    });
    scores.push({ backbone: run.backbone, strict: of('strict'), lenient: of('lenient') });
    const alone = async (x: Extraction) => {
      await breathe();
      return pooledReport([of(x)], general, downstream, opts);
    };
    perRun.push({
      backbone: run.backbone,
      seed: run.seed,
      strict: await alone('strict'),
      lenient: await alone('lenient'),
    });
  }

  const backbones = [...new Set(runs.map((r) => r.backbone))];
  const groups: GroupReport[] = [];
  for (const backbone of backbones) {
    const arms = pooledArms(runs, backbone);
    const own = scores.filter((s) => s.backbone === backbone);
    const only = (r: RunScores): RunScores => ({
      base: r.base,
      arms: Object.fromEntries(arms.map((a) => [a, r.arms[a]])),
    });
    const pooled = async (x: Extraction) => {
      await breathe();
      return pooledReport(
        own.map((s) => only(s[x])),
        general,
        downstream,
        { ...opts, reference: input.reference, method: input.method },
      );
    };
    groups.push({
      backbone,
      seeds: runs.filter((r) => r.backbone === backbone).map((r) => r.seed),
      strict: await pooled('strict'),
      lenient: await pooled('lenient'),
      data: Object.fromEntries(
        arms.map((arm) => [
          arm,
          meanStats(data.filter((d) => d.backbone === backbone && d.arm === arm).map((d) => d.stats)),
        ]),
      ),
    });
  }

  return {
    name: input.name,
    fallback: input.fallback,
    reference: input.reference,
    method: input.method,
    general,
    downstream,
    groups,
    runs: perRun,
    data,
    empty,
    passAtK: [...(input.passAtK ?? []), ...(await validationPassAtK(store, input.rewriter?.validations ?? []))],
    mixtures: resolveMixtures(input.mixtures ?? [], groups),
    rewriter: input.rewriter ? await rewriterCurves(store, input.rewriter.metrics) : null,
    samples: await samplesOf(store, input),
  };
}

/**
 * The arms pooled over the runs of `backbone`: those fine-tuned in every one of them. Every run must
 * name the same arms (fine-tuned or empty); an arm empty in any run is left out of the pooled figures.
 */
function pooledArms(runs: PipelineReportInput['runs'], backbone: string): string[] {
  const own = runs.filter((r) => r.backbone === backbone);
  const named = (r: PipelineReportInput['runs'][number]) => [...Object.keys(r.arms), ...Object.keys(r.empty ?? {})];
  const first = named(own[0]);
  own.forEach((r, i) => {
    const arms = named(r);
    if (arms.length !== first.length || arms.some((a) => !first.includes(a)))
      throw new InputError(
        `run ${i} has arms ${arms.join(', ')}, run 0 has ${first.join(', ')}: runs are pooled arm by arm`,
      );
  });
  const arms = Object.keys(own[0].arms).filter((a) => own.every((r) => r.arms[a]));
  if (arms.length === 0)
    throw new InputError(`runs: no arm of backbone ${backbone} was fine-tuned in every run (see their empty arms)`);
  return arms;
}

/** Each mixture with its backbone, NLL and forgetting: given, or taken from the arm of that name in the backbone's runs. */
function resolveMixtures(mixtures: NonNullable<PipelineReportInput['mixtures']>, groups: GroupReport[]): Mixture[] {
  return mixtures.map((m, i) => {
    const backbone = m.backbone ?? groups[0].backbone;
    if (m.nll !== undefined && m.forgetting !== undefined)
      return { ...m, backbone, nll: m.nll, forgetting: m.forgetting };
    const g = groups.find((x) => x.backbone === backbone);
    const mean = (x: 'strict' | 'lenient') => g?.[x].arms.find((a) => a.arm === m.arm)?.mean;
    const [strict, lenient] = [mean('strict'), mean('lenient')];
    if (!g || !strict || !lenient)
      throw new InputError(
        `mixtures[${i}]: ${m.arm} is not an arm of the runs of backbone ${backbone}; give its nll and forgetting`,
      );
    return { ...m, backbone, nll: m.nll ?? g.data[m.arm].meanNll, forgetting: m.forgetting ?? { strict, lenient } };
  });
}

function benchmarksOf(e: PipelineReportInput['runs'][number]['base'], role: 'general' | 'downstream'): string[] {
  return e.filter((x) => x.role === role).map((x) => x.benchmark);
}

type ArmRun = PipelineReportInput['runs'][number]['arms'][string];

async function readSft(store: ArtifactStore, uri: string, at: string): Promise<SftRecord[]> {
  const path = store.resolve(uri);
  if (!existsSync(path)) throw new InputError(`${at}.dataset: ${uri} does not exist in the artifact store`);
  const records = await readJsonl<SftRecord>(path, uri);
  records.forEach((r, i) => {
    for (const f of ['id', 'question', 'answer'] as const)
      if (typeof r[f] !== 'string') throw new InputError(`${uri}:${i + 1}: ${f}: must be a string`);
  });
  return records;
}

async function armData(store: ArtifactStore, a: ArmRun, at: string): Promise<DataStats> {
  const records = await readSft(store, a.dataset, at);
  if (a.score.records !== records.length)
    throw new InputError(`${at}.score.records: ${a.score.records}, but ${a.dataset} holds ${records.length} records`);
  let embeddings: Map<string, number[]> | undefined;
  if (a.score.embeddings) {
    const path = store.resolve(a.score.embeddings);
    if (!existsSync(path)) throw new InputError(`${at}.score.embeddings: ${a.score.embeddings} does not exist`);
    const rows = await readJsonl<{ id: string; embedding: number[] }>(path, a.score.embeddings);
    embeddings = new Map(rows.map((r) => [r.id, r.embedding]));
  }
  try {
    return dataStats({ records, score: a.score, embeddings, recordsSeen: a.records, maxEditShare: 1 });
  } catch (err) {
    throw new InputError(`${at}: ${(err as Error).message}`);
  }
}

/** Field by field mean over runs; a field null in any run is null. */
function meanStats(rows: DataStats[]): DataStats {
  const out: Record<string, number | null> = {};
  for (const k of Object.keys(rows[0]) as (keyof DataStats)[]) {
    const values = rows.map((r) => r[k]);
    out[k] = values.some((v) => v === null) ? null : values.reduce((s, v) => s! + v!, 0)! / values.length;
  }
  return out as unknown as DataStats;
}

/** The rewriter's curves: step and the numeric metrics of each line of metrics.jsonl (validation ones as val.*). */
async function rewriterCurves(store: ArtifactStore, metrics: string): Promise<ReportModel['rewriter']> {
  const path = store.resolve(metrics);
  if (!existsSync(path)) throw new InputError(`rewriter.metrics: ${metrics} does not exist in the artifact store`);
  const rows = await readJsonl<Record<string, unknown>>(path, metrics);
  return {
    steps: rows.map((m) => {
      const flat: Record<string, number> = {};
      for (const [k, v] of Object.entries(m)) {
        if (typeof v === 'number' && Number.isFinite(v)) flat[k] = v;
        else if (k === 'val' && v && typeof v === 'object')
          for (const [vk, vv] of Object.entries(v))
            if (typeof vv === 'number' && Number.isFinite(vv)) flat[`val.${vk}`] = vv;
      }
      return flat;
    }),
  };
}

/**
 * Pass rate against k of the rewriter at each validated step, from its validation.jsonl (k samples per
 * record): the share of records with a passing rewrite among their first j samples, j = 1..k.
 */
async function validationPassAtK(store: ArtifactStore, refs: string[]): Promise<ReportModel['passAtK']> {
  const out: ReportModel['passAtK'] = [];
  for (const [i, ref] of refs.entries()) {
    const path = store.resolve(ref);
    if (!existsSync(path))
      throw new InputError(`rewriter.validations[${i}]: ${ref} does not exist in the artifact store`);
    type Row = { samples: { full: boolean; answer: boolean }[] };
    const rows = await readJsonl<Row>(path, ref);
    const k = Math.min(...rows.map((r) => r.samples.length));
    if (rows.length === 0 || k === 0)
      throw new InputError(`rewriter.validations[${i}]: ${ref} holds no sampled rewrites`);
    // validateRewriter writes <run>/steps/<step>/validation-<key>/validation.jsonl (earlier runs:
    // <run>/validation/<step>/validation.jsonl)
    const m = /(?:steps\/(\d{6})\/validation-[^/]+|validation\/(\d{6}))\/validation\.jsonl$/.exec(ref);
    const step = m?.[1] ?? m?.[2];
    const arm = step ? `rl-validation-step-${Number(step)}` : `rl-validation-${i}`;
    const share = (f: (r: Row) => boolean) => rows.filter(f).length / rows.length;
    for (let j = 1; j <= k; j++)
      out.push({
        arm,
        k: j,
        passRate: share((r) => r.samples.slice(0, j).some((x) => x.full)),
        answerPassRate: share((r) => r.samples.slice(0, j).some((x) => x.answer)),
      });
  }
  return out;
}

/** A few of the method's rewrites (first run of the first backbone) beside their originals. */
async function samplesOf(store: ArtifactStore, input: PipelineReportInput): Promise<RewriteSample[]> {
  const arm = input.runs[0].arms[input.method];
  if (!arm || input.samples === 0) return [];
  const records = await readSft(store, arm.dataset, `runs[0].arms.${input.method}`);
  return (
    records
      .filter((r) => r.original !== undefined)
      // the rewrites first (the sort is stable: dataset order within each kind), then fallbacks
      .sort((a, b) => Number(b.rewrite_success ?? false) - Number(a.rewrite_success ?? false))
      .slice(0, input.samples)
      .map((r) => ({
        id: r.id,
        question: r.question,
        original: r.original!,
        answer: r.answer,
        rewriteSuccess: r.rewrite_success ?? false,
        reward: r.chosen_reward ?? null,
      }))
  );
}
