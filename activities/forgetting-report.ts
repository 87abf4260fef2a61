// forgettingReport: reads the per-item predictions of the base and of each arm, and writes forgetting
// per general benchmark and on average (strict and lenient extraction, paired bootstrap 95%
// intervals), plus downstream accuracy, as JSON and Markdown.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { forgetting, forgettingMarkdown, type BenchmarkScores, type ForgettingReport } from '../method/forgetting';
import { schemas, type ForgettingInputInput } from '../schemas';
import { canonicalJson, sha256, type ArtifactStore } from './artifact-store';
import { InputError } from './errors';
import { writeManifest } from './manifest';
import { existsSync } from 'node:fs';

type Evaluation = { benchmark: string; role: 'downstream' | 'general'; uri: string }[];

export interface ForgettingReportOutput {
  uri: string;
  strict: ForgettingReport;
  lenient: ForgettingReport;
  /** Downstream accuracy (points) of the base and each arm, strict and lenient, per downstream benchmark. */
  downstream: Record<string, Record<string, { strict: number; lenient: number }>>;
  markdown: string;
}

async function scoresOf(
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

export async function forgettingReport(
  store: ArtifactStore,
  given: ForgettingInputInput,
): Promise<ForgettingReportOutput> {
  const input = schemas.forgettingInput.parse(given);
  const general = input.base.filter((e) => e.role === 'general').map((e) => e.benchmark);
  const downstream = input.base.filter((e) => e.role === 'downstream').map((e) => e.benchmark);
  if (general.length === 0) throw new InputError('base: no general benchmark to measure forgetting on');
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
  const markdown =
    `### Forgetting on the general benchmarks, strict extraction\n\n${forgettingMarkdown(strict)}\n` +
    `### Forgetting on the general benchmarks, lenient extraction\n\n${forgettingMarkdown(lenient)}\n` +
    (downTable ? `### Downstream accuracy (%)\n\n${downTable}\n` : '');
  const key = sha256(canonicalJson(input)).slice(0, 16);
  const ref = `reports/${input.name}-${key}`;
  const { path } = await store.writeDir(ref, async (tmp) => {
    await writeFile(
      join(tmp, 'forgetting.json'),
      JSON.stringify({ strict, lenient, downstream: down }, null, 2) + '\n',
    );
    await writeFile(join(tmp, 'forgetting.md'), markdown);
    await writeManifest(tmp, {
      kind: 'forgetting-report',
      config: input,
      seeds: { bootstrap: input.seed },
      inputs: [],
      files: ['forgetting.json', 'forgetting.md'],
    });
  });
  return {
    uri: store.ref(path),
    strict,
    lenient,
    downstream: down,
    markdown: await readFile(join(path, 'forgetting.md'), 'utf8'),
  };
}
