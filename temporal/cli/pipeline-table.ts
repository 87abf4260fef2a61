// The pipeline's result for a person: per seed, each arm's SFT data (records kept, trained tokens,
// backbone NLL, rewrite success, pass rate against k) and its accuracies, then each seed's forgetting
// report and where everything was written.
import { join } from 'node:path';
import type { PipelineOutput } from '../../workflows/pipeline';

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const pts = (x: { strict: number } | null | undefined) => (x ? x.strict.toFixed(1) : '—');

export function pipelineTable(r: PipelineOutput, path: (ref: string) => string): string[] {
  const lines: string[] = [];
  for (const seed of r.seeds) {
    lines.push(
      `### Seed ${seed}: the arms' SFT data and accuracies (fallback ${r.fallback}; base general ${pts(r.base.general)}, downstream ${pts(r.base.downstream)})`,
      '',
      '| arm | k | records kept | dropped | trained tokens | backbone NLL | rewrite success | pass@1 .. pass@k | general (strict) | downstream (strict) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    );
    for (const a of r.arms.filter((x) => x.seed === seed))
      lines.push(
        `| ${a.arm} | ${a.k ?? '—'} | ${a.data.kept} | ${a.data.dropped} | ${a.score.tokens} | ${a.score.meanNll.toFixed(4)} | ` +
          `${pct(a.data.rewriteSuccess)} | ${a.data.passAtK?.map((p) => pct(p)).join(' ') ?? '—'} | ` +
          `${pts(a.evaluation.general)} | ${pts(a.evaluation.downstream)} |`,
      );
    // the arms fallback 'drop' left without a record: not fine-tuned, so no accuracies
    for (const a of r.empty?.filter((x) => x.seed === seed) ?? [])
      lines.push(
        `| ${a.arm} | ${a.k ?? '—'} | 0 | ${a.data.dropped} | 0 | — | ${pct(a.data.rewriteSuccess)} | ` +
          `${a.data.passAtK?.map((p) => pct(p)).join(' ') ?? '—'} | 0 records: nothing to fine-tune | — |`,
      );
    const notes = [...r.arms, ...(r.empty ?? [])].filter((x) => x.seed === seed && x.note);
    if (notes.length) lines.push('', ...notes.map((a) => `- ${a.arm}: ${a.note}`));
    const report = r.reports?.find((x) => x.seed === seed);
    if (report)
      lines.push('', report.markdown, '', `the report of seed ${seed}: ${join(path(report.uri), 'forgetting.md')}`);
    lines.push('');
  }
  if (r.report)
    lines.push(
      `the report: ${path(r.report.markdown)}`,
      `the report as one HTML page: ${path(r.report.html)}`,
      `the report's data: ${path(r.report.json)}`,
    );
  for (const [arm, w] of Object.entries(r.rewriters))
    lines.push(`the ${arm} rewriter: ${w.steps} steps, best step ${w.best.step}; curves ${path(w.curves)}`);
  for (const a of r.arms) lines.push(`the SFT data of ${a.arm} (seed ${a.seed}): ${path(a.data.dataset)}`);
  return lines;
}
