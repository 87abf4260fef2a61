// forgettingReport: reads the per-item predictions of the base and of each arm, and writes forgetting
// per general benchmark and on average (strict and lenient extraction, paired bootstrap 95%
// intervals), plus downstream accuracy, as JSON and Markdown. Given each arm's backbone NLL, also the
// dose-response table and plot (forgetting against the NLL of the SFT data); given a reference arm
// (vanilla SFT, `foreign`), each other arm's forgetting reduction against it, paired over items.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  forgetting,
  forgettingDifference,
  forgettingMarkdown,
  type BenchmarkScores,
  type ForgettingReport,
  type Interval,
} from '../method/forgetting';
import { renderVegaLite, scatterChart, type LabelledPoint } from '../method/figures';
import { fit } from '../method/fit';
import { schemas, type ForgettingInputInput, type ForgettingReportOutput } from '../schemas';
import { canonicalJson, sha256, type ArtifactStore } from './artifact-store';
import { InputError } from './errors';
import { writeManifest } from './manifest';
import { existsSync } from 'node:fs';

export type Evaluation = { benchmark: string; role: 'downstream' | 'general'; uri: string }[];

/** Bumped when the report's files change, so an older report folder is not returned for the same input. */
const REPORT_FORMAT = 3;

export type { ForgettingReportOutput };
type DoseResponse = NonNullable<ForgettingReportOutput['doseResponse']>;
type DoseResponseRow = DoseResponse['rows'][number];

/** Per-item correctness of one evaluation (strict and lenient), from its predictions.jsonl files. */
export async function scoresOf(
  store: ArtifactStore,
  evaluation: Evaluation,
  who: string,
): Promise<Record<'strict' | 'lenient', BenchmarkScores>> {
  const out = { strict: new Map(), lenient: new Map() } as Record<'strict' | 'lenient', BenchmarkScores>;
  for (const e of evaluation) {
    const path = join(store.resolve(e.uri), 'predictions.jsonl');
    if (!existsSync(path)) throw new InputError(`${who}: ${e.uri} has no predictions.jsonl`);
    const rows = (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; strict: { correct: boolean }; lenient: { correct: boolean } });
    out.strict.set(e.benchmark, new Map(rows.map((r) => [r.id, Number(r.strict.correct)])));
    out.lenient.set(e.benchmark, new Map(rows.map((r) => [r.id, Number(r.lenient.correct)])));
  }
  return out;
}

const pct = (s: Map<string, number>) => (100 * [...s.values()].reduce((a, b) => a + b, 0)) / s.size;
const f1 = (x: number) => x.toFixed(1);
const ci = (i: Interval) => `${f1(i.value)} [${f1(i.low)}, ${f1(i.high)}]`;

export async function forgettingReport(
  store: ArtifactStore,
  given: ForgettingInputInput,
): Promise<ForgettingReportOutput> {
  const parsed = schemas.forgettingInput.parse(given);
  const general = parsed.base.filter((e) => e.role === 'general').map((e) => e.benchmark);
  const downstream = parsed.base.filter((e) => e.role === 'downstream').map((e) => e.benchmark);
  if (general.length === 0) throw new InputError('base: no general benchmark to measure forgetting on');
  const armNames = Object.keys(parsed.arms);
  if (parsed.nll) {
    for (const arm of armNames)
      if (parsed.nll[arm] === undefined) throw new InputError(`nll: no value for arm "${arm}"`);
    for (const k of Object.keys(parsed.nll))
      if (!armNames.includes(k)) throw new InputError(`nll.${k}: not one of the arms (${armNames.join(', ')})`);
  }
  if (parsed.reference !== undefined && !armNames.includes(parsed.reference))
    throw new InputError(`reference: "${parsed.reference}" is not one of the arms (${armNames.join(', ')})`);
  const reference = parsed.reference ?? (armNames.includes('foreign') ? 'foreign' : undefined);
  const input = { ...parsed, ...(reference !== undefined ? { reference } : {}) };

  const base = await scoresOf(store, input.base, 'base');
  const arms = Object.fromEntries(
    await Promise.all(Object.entries(input.arms).map(async ([k, v]) => [k, await scoresOf(store, v, k)] as const)),
  );
  const opts = { resamples: input.resamples, seed: input.seed };
  const strict = forgetting(
    base.strict,
    Object.fromEntries(Object.entries(arms).map(([k, v]) => [k, v.strict])),
    general,
    opts,
  );
  const lenient = forgetting(
    base.lenient,
    Object.fromEntries(Object.entries(arms).map(([k, v]) => [k, v.lenient])),
    general,
    opts,
  );
  const down: ForgettingReportOutput['downstream'] = {};
  for (const b of downstream) {
    down[b] = { base: { strict: pct(base.strict.get(b)!), lenient: pct(base.lenient.get(b)!) } };
    for (const [k, v] of Object.entries(arms)) {
      if (!v.strict.has(b)) throw new InputError(`${k}: no results for downstream benchmark ${b}`);
      down[b][k] = { strict: pct(v.strict.get(b)!), lenient: pct(v.lenient.get(b)!) };
    }
  }
  const downTable = downstream.length
    ? [
        `| model | ${downstream.map((b) => `${b} strict | ${b} lenient`).join(' | ')} |`,
        `|---|${downstream.map(() => '---|---').join('|')}|`,
        ...['base', ...Object.keys(arms)].map(
          (m) =>
            `| ${m} | ${downstream.map((b) => `${down[b][m].strict.toFixed(1)} | ${down[b][m].lenient.toFixed(1)}`).join(' | ')} |`,
        ),
      ].join('\n')
    : '';

  const key = sha256(canonicalJson({ format: REPORT_FORMAT, input })).slice(0, 16);
  const ref = `reports/${input.name}-${key}`;

  // the dose-response: each arm's mean forgetting against the backbone NLL of its SFT data
  let doseResponse: DoseResponse | undefined;
  let svgText: string | undefined;
  if (input.nll) {
    const nll = input.nll;
    const mean = (r: ForgettingReport, arm: string) => r.rows.find((x) => x.arm === arm)!.mean;
    const rows: DoseResponseRow[] = armNames
      .map((arm) => ({
        arm,
        nll: nll[arm],
        forgetting: { strict: mean(strict, arm), lenient: mean(lenient, arm) },
        downstream: Object.fromEntries(downstream.map((b) => [b, down[b][arm]])),
      }))
      .sort((a, b) => a.nll - b.nll || armNames.indexOf(a.arm) - armNames.indexOf(b.arm));
    const distinct = new Set(rows.map((r) => r.nll)).size >= 2;
    const line = (kind: 'strict' | 'lenient') => fit(rows.map((r) => ({ x: r.nll, y: r.forgetting[kind].value })));
    doseResponse = {
      rows,
      fit: distinct ? { strict: line('strict'), lenient: line('lenient') } : null,
      svg: `${store.ref(store.resolve(ref))}/dose-response.svg`,
    };
    const points = (kind: 'strict' | 'lenient'): LabelledPoint[] =>
      rows.map((r) => ({
        x: r.nll,
        y: r.forgetting[kind].value,
        low: r.forgetting[kind].low,
        high: r.forgetting[kind].high,
        label: r.arm,
        series: `${kind} extraction`,
      }));
    svgText = await renderVegaLite(
      scatterChart([...points('lenient'), ...points('strict')], [], {
        title: 'Forgetting against the backbone NLL of the SFT data',
        xLabel: 'mean backbone NLL per answer token of the SFT data (nats)',
        yLabel: 'mean forgetting on the general benchmarks (points)',
        fitLine: true,
      }),
    );
  }
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const doseTable = doseResponse
    ? [
        row([
          'arm',
          'backbone NLL',
          'forgetting strict',
          'forgetting lenient',
          ...downstream.flatMap((b) => [`${b} strict`, `${b} lenient`]),
        ]),
        `|${'---|'.repeat(4 + 2 * downstream.length)}`,
        ...doseResponse.rows.map((r) =>
          row([
            r.arm,
            r.nll.toFixed(4),
            ci(r.forgetting.strict),
            ci(r.forgetting.lenient),
            ...downstream.flatMap((b) => [f1(r.downstream[b].strict), f1(r.downstream[b].lenient)]),
          ]),
        ),
      ].join('\n') +
      "\n\nBackbone NLL: mean negative log-likelihood per answer token (nats) of the arm's SFT data under the " +
      'backbone. Forgetting: mean over the general benchmarks, points [95% paired bootstrap interval]; ' +
      'downstream accuracy in %.' +
      (doseResponse.fit
        ? ` Least-squares slope: ${f1(doseResponse.fit.strict.b)} points per nat (strict), ` +
          `${f1(doseResponse.fit.lenient.b)} (lenient).`
        : '') +
      ' Plot: `dose-response.svg`.\n'
    : '';

  // forgetting reduction of each arm against the reference (vanilla SFT), paired over items
  let reduction: ForgettingReportOutput['reduction'];
  if (reference !== undefined && armNames.length > 1) {
    const ref0 = arms[reference];
    const relative = (r: ForgettingReport, arm: string) => {
      const refMean = r.rows.find((x) => x.arm === reference)!.mean.value;
      const armMean = r.rows.find((x) => x.arm === arm)!.mean.value;
      return refMean > 0 ? 1 - armMean / refMean : null;
    };
    reduction = {
      reference,
      rows: armNames
        .filter((arm) => arm !== reference)
        .map((arm) => ({
          arm,
          // forgetting(reference) - forgetting(arm)
          strict: forgettingDifference(ref0.strict, arms[arm].strict, general, opts),
          lenient: forgettingDifference(ref0.lenient, arms[arm].lenient, general, opts),
          relative: { strict: relative(strict, arm), lenient: relative(lenient, arm) },
        })),
    };
  }
  const rel = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const reductionTable = reduction
    ? [
        '| arm | reduction strict | reduction lenient | relative strict | relative lenient |',
        '|---|---|---|---|---|',
        ...reduction.rows.map(
          (r) =>
            `| ${r.arm} | ${ci(r.strict)} | ${ci(r.lenient)} | ${rel(r.relative.strict)} | ${rel(r.relative.lenient)} |`,
        ),
      ].join('\n') +
      `\n\nReduction = forgetting of ${reduction.reference} - forgetting of the arm, mean over the general benchmarks, ` +
      `points [95% paired bootstrap interval, items paired across the two arms]; positive: the arm forgets less. ` +
      `Relative = 1 - forgetting of the arm / forgetting of ${reduction.reference}.\n`
    : '';

  const markdown =
    `### Forgetting on the general benchmarks, strict extraction\n\n${forgettingMarkdown(strict)}\n` +
    `### Forgetting on the general benchmarks, lenient extraction\n\n${forgettingMarkdown(lenient)}\n` +
    (downTable ? `### Downstream accuracy (%)\n\n${downTable}\n` : '') +
    (doseTable ? `\n### Dose-response: forgetting against the backbone NLL of the SFT data\n\n${doseTable}` : '') +
    (reductionTable ? `\n### Forgetting reduction vs ${reduction!.reference}\n\n${reductionTable}` : '');
  const files = ['forgetting.json', 'forgetting.md', ...(svgText ? ['dose-response.svg'] : [])];
  const { path } = await store.writeDir(ref, async (tmp) => {
    await writeFile(
      join(tmp, 'forgetting.json'),
      JSON.stringify(
        {
          strict,
          lenient,
          downstream: down,
          ...(doseResponse ? { doseResponse } : {}),
          ...(reduction ? { reduction } : {}),
        },
        null,
        2,
      ) + '\n',
    );
    await writeFile(join(tmp, 'forgetting.md'), markdown);
    if (svgText) await writeFile(join(tmp, 'dose-response.svg'), svgText);
    await writeManifest(tmp, {
      kind: 'forgetting-report',
      config: input,
      seeds: { bootstrap: input.seed },
      inputs: [],
      files,
    });
  });
  return {
    uri: store.ref(path),
    strict,
    lenient,
    downstream: down,
    ...(doseResponse ? { doseResponse } : {}),
    ...(reduction ? { reduction } : {}),
    markdown: await readFile(join(path, 'forgetting.md'), 'utf8'),
  };
}
