// The pipeline report's pages: one document model (sections of text, tables and figures) rendered to
// Markdown (figures as SVG files beside it) and to one self-contained HTML page (figures inline), so
// the two never disagree. Figures are Vega-Lite specs rendered by method/figures.ts.
import {
  groupedBarChart,
  lineChart,
  renderVegaLite,
  scatterChart,
  type Series,
  type TopLevelSpec,
} from '../method/figures';
import type { Interval } from '../method/forgetting';
import type { PooledReport } from '../method/statistics';
import type { ReportModel } from '../schemas';
import type { GroupReport } from './pipeline-report';

export type RewriteSample = ReportModel['samples'][number];

/** A point of the dose-response line: an oracle mixture, with the backbone whose plane it is drawn on. */
export type Mixture = ReportModel['mixtures'][number];

/** Everything the report says: report.json holds exactly this (schemas/json/report-model.schema.json). */
export type { ReportModel };

interface Table {
  head: string[];
  rows: string[][];
}

type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'table'; table: Table }
  | { kind: 'figure'; file: string; title: string }
  | { kind: 'sample'; sample: RewriteSample };

const f1 = (x: number) => x.toFixed(1);
const ci = (i: Interval | null | undefined) => (i ? `${f1(i.value)} [${f1(i.low)}, ${f1(i.high)}]` : 'n/a');
const pctCi = (i: Interval | null | undefined) =>
  i ? `${f1(100 * i.value)}% [${f1(100 * i.low)}, ${f1(100 * i.high)}]` : 'n/a';
const num = (x: number | null, digits = 3) => (x === null ? 'n/a' : x.toFixed(digits));
const share = (x: number | null) => (x === null ? 'n/a' : `${f1(100 * x)}%`);

/** What each arm controls for, and the world's caveats: the "how to read this" section. */
const HOW_TO_READ = [
  'Forgetting of an arm on a general benchmark = accuracy of the base model - accuracy after SFT on the arm, in points; the mean is over the general benchmarks. Strict extraction reads the last \\boxed{} exactly; lenient forgives spacing, case and punctuation and falls back to the last number, so an answer-format change alone is not counted as forgetting under it.',
  "Intervals are 95% percentile bootstrap intervals. Within one run, items are resampled (the same items for the base and every arm, so differences are paired). Across the runs of one backbone, the runs are resampled, then the items within each: the interval holds the seed-to-seed spread as well. The cut against vanilla is 1 - forgetting(arm) / forgetting(vanilla), the paper's forgetting reduction; 'RL vs arm' is forgetting(arm) - forgetting(RL), positive when RL forgets less.",
  "What each arm controls for. vanilla: SFT on the references y*, the baseline to beat. prompted: the untrained backbone given the rewrite prompt, best of k under the same gate and fallback: what RL adds over best-of-k prompting (at equal k, and at a k matched to RL's compute). sdft (Yang et al. 2024): one sample of the backbone prompted with x and y*, kept iff it passes the gate and holds no give-away phrase; in the embedded world it uses the world's rewrite prompt (its backbone knows no other), so it equals prompted at k = 1 there. self-alignment (Mind the Gap): the backbone's own greedy answer when it passes the gate, else one guided rewrite, else y*; Mind the Gap's importance-weighting stage is left out by design. rl: the trained rewriter (best checkpoint), Generate-Verify-Fallback with k samples. oracle (world only): y* in the backbone's own style, by the styler: what a perfect rewrite could reach. The ablations rl-no-dist, rl-no-div and rl-no-gate each drop one reward term (their own trainRewriter runs).",
  'In the world the own style is one deterministic rendering of a solution, so the diversity reward can only pay for leaving it: rl-no-div shows whether diversity costs naturalness there, which need not hold for a real backbone whose own answers vary.',
  "The fallback decides much: with 'original', a record no candidate passed is trained on as y* (the paper's and Mind the Gap's setting), so an arm's data is a mixture of its rewrites and foreign references, and the oracle mixtures' dose-response line shows how much a given share of foreign answers costs. With 'drop', such records leave the SFT set; the data table gives every arm's record and token counts.",
];

function armTable(g: GroupReport, m: ReportModel): Table {
  const s = g.strict;
  const l = g.lenient;
  const cut = (r: PooledReport, arm: string) => r.cut?.rows.find((x) => x.arm === arm);
  const vs = (r: PooledReport, arm: string) => r.versus?.rows.find((x) => x.arm === arm);
  return {
    head: [
      'arm',
      ...m.downstream.map((b) => `${b} accuracy`),
      'forgetting strict',
      'forgetting lenient',
      `cut vs ${m.reference} (strict)`,
      `${m.method} forgets less by (strict)`,
      `downstream(${m.method}) - downstream(arm)`,
    ],
    rows: [
      ['base', ...m.downstream.map((b) => ci(s.base[b])), '', '', '', '', ''],
      ...s.arms.map((a, i) => [
        a.arm,
        ...m.downstream.map((b) => ci(a.downstream[b])),
        ci(a.mean),
        ci(l.arms[i].mean),
        a.arm === m.reference ? '' : pctCi(cut(s, a.arm)?.relative),
        a.arm === m.method ? '' : ci(vs(s, a.arm)?.forgetting),
        a.arm === m.method ? '' : ci(vs(s, a.arm)?.downstream),
      ]),
      ...emptyArms(m, g).map(({ arm, seeds }) => [
        arm,
        ...m.downstream.map(() => 'n/a'),
        `0 records${seeds}: nothing to fine-tune`,
        'n/a',
        '',
        '',
        '',
      ]),
    ],
  };
}

/** The arms of group `g` left out of its pooled figures for an empty SFT set, with the seeds it was empty in. */
function emptyArms(m: ReportModel, g: GroupReport): { arm: string; seeds: string; records: number }[] {
  const own = m.empty.filter((e) => e.backbone === g.backbone);
  return [...new Set(own.map((e) => e.arm))].map((arm) => {
    const of = own.filter((e) => e.arm === arm);
    const all = of.length === g.seeds.length;
    return {
      arm,
      seeds:
        all && g.seeds.length === 1 ? '' : ` in seed${of.length > 1 ? 's' : ''} ${of.map((e) => e.seed).join(', ')}`,
      records: Math.max(...of.map((e) => e.records)),
    };
  });
}

/** One paragraph per arm of `g` whose SFT set was empty in a run: what happened and what it means for the figures. */
function emptyText(m: ReportModel, g: GroupReport): string[] {
  return m.empty
    .filter((e) => e.backbone === g.backbone)
    .map(
      (e) =>
        `${e.arm} (seed ${e.seed}): 0 records: nothing to fine-tune. Fallback '${m.fallback}' left out all ${e.records} records (no candidate passed the gate), so the arm was not fine-tuned or evaluated and is left out of the pooled forgetting figures and intervals.`,
    );
}

function perBenchmarkTable(r: PooledReport): Table {
  return {
    head: ['arm', ...r.general, 'mean'],
    rows: [
      ['base (accuracy)', ...r.general.map((b) => ci(r.base[b])), ''],
      ...r.arms.map((a) => [a.arm, ...r.general.map((b) => ci(a.forgetting[b])), ci(a.mean)]),
    ],
  };
}

function cutTable(g: GroupReport): Table | null {
  if (!g.strict.cut) return null;
  return {
    head: [
      'arm',
      'forgets less by (strict)',
      'relative cut (strict)',
      'forgets less by (lenient)',
      'relative cut (lenient)',
    ],
    rows: g.strict.cut.rows.map((r, i) => {
      const len = g.lenient.cut!.rows[i];
      return [r.arm, ci(r.absolute), pctCi(r.relative), ci(len.absolute), pctCi(len.relative)];
    }),
  };
}

function versusTable(g: GroupReport, m: ReportModel): Table | null {
  if (!g.strict.versus) return null;
  return {
    head: [
      'arm',
      `forgetting(arm) - forgetting(${m.method}), strict`,
      'lenient',
      `downstream(${m.method}) - downstream(arm)`,
    ],
    rows: g.strict.versus.rows.map((r, i) => [
      r.arm,
      ci(r.forgetting),
      ci(g.lenient.versus!.rows[i].forgetting),
      ci(r.downstream),
    ]),
  };
}

function dataTable(g: GroupReport, m: ReportModel): Table {
  return {
    head: [
      'arm',
      'records (of seen)',
      'trained tokens',
      'backbone NLL',
      'embedding diversity',
      'distinct-1/2/3',
      'rewrite success',
      'false step',
      'copy rate',
      'edit distance to y*',
      'chosen reward',
      'mean chars / tokens',
    ],
    rows: [
      ...Object.entries(g.data).map(([arm, d]) => [
        arm,
        `${Math.round(d.records)} (${Math.round(d.recordsSeen)})`,
        String(Math.round(d.trainedTokens)),
        num(d.meanNll),
        num(d.embeddingDiversity),
        `${num(d.distinct1)} / ${num(d.distinct2)} / ${num(d.distinct3)}`,
        share(d.rewriteSuccessRate),
        share(d.falseStepShare),
        share(d.copyRate),
        num(d.editDistance),
        num(d.chosenReward),
        `${f1(d.meanChars)} / ${f1(d.meanTokens)}`,
      ]),
      ...emptyArms(m, g).map(({ arm, seeds, records }) => [
        arm,
        `0 (${records})${seeds}`,
        '0',
        ...Array.from({ length: 9 }, () => 'n/a'),
      ]),
    ],
  };
}

function perRunTable(m: ReportModel, backbone: string): Table {
  const runs = m.runs.filter((r) => r.backbone === backbone);
  return {
    head: ['arm', ...runs.map((r) => `seed ${r.seed}, strict`)],
    rows: [...new Set(runs.flatMap((r) => r.strict.arms.map((a) => a.arm)))].map((arm) => [
      arm,
      ...runs.map((r) => {
        const row = r.strict.arms.find((a) => a.arm === arm);
        return row ? ci(row.mean) : '0 records: nothing to fine-tune';
      }),
    ]),
  };
}

/** The figures as Vega-Lite specs, by file name. */
function figureSpecs(m: ReportModel): Record<string, TopLevelSpec> {
  const specs: Record<string, TopLevelSpec> = {};
  m.groups.forEach((g, i) => {
    const bars = g.strict.arms.flatMap((a) =>
      [...g.strict.general, 'mean'].map((b) => {
        const v = b === 'mean' ? a.mean : a.forgetting[b];
        return { group: b, series: a.arm, y: v.value, low: v.low, high: v.high };
      }),
    );
    specs[`forgetting-${i}.svg`] = groupedBarChart(bars, {
      title: `Forgetting per general benchmark, strict (${g.backbone})`,
      xLabel: 'general benchmark',
      yLabel: 'forgetting (points)',
    });
    const points = g.strict.arms.map((a) => ({
      x: g.data[a.arm].meanNll,
      y: a.mean.value,
      low: a.mean.low,
      high: a.mean.high,
      label: a.arm,
    }));
    const mixtures = m.mixtures.filter((x) => x.backbone === g.backbone).sort((a, b) => a.nll - b.nll);
    const lines: Series[] = mixtures.length
      ? [
          {
            name: 'oracle mixtures (dose-response)',
            points: mixtures.map((x) => ({ x: x.nll, y: x.forgetting.strict.value })),
          },
        ]
      : [];
    specs[`plane-${i}.svg`] = scatterChart(points, lines, {
      title: `Forgetting against the backbone NLL of the SFT data (${g.backbone})`,
      xLabel: 'mean backbone NLL per answer token (nats)',
      yLabel: 'mean forgetting, strict (points)',
    });
  });
  if (m.rewriter && m.rewriter.steps.length) {
    const curve = (key: string, name: string): Series => ({
      name,
      points: m.rewriter!.steps.flatMap((s) =>
        s[key] !== undefined && s.step !== undefined ? [{ x: s.step, y: s[key] }] : [],
      ),
    });
    const keep = (series: Series[]) => series.filter((s) => s.points.length > 0);
    const rates = keep([
      curve('fullPassRate', 'full pass rate (rollouts)'),
      curve('answerPassRate', 'answer-only pass rate (rollouts)'),
      curve('val.greedyFullPassRate', 'validation: greedy full pass rate'),
      curve('val.kFullPassRate', 'validation: k-sample full pass rate'),
    ]);
    if (rates.length)
      specs['rewriter-rates.svg'] = lineChart(rates, {
        title: 'RL rewriter: pass rates',
        xLabel: 'GRPO step',
        yLabel: 'share',
        xInteger: true,
      });
    const reward = keep([
      curve('rewardMean', 'mean reward'),
      curve('feasibleNll', 'backbone NLL of feasible rewrites'),
    ]);
    if (reward.length)
      specs['rewriter-reward.svg'] = lineChart(reward, {
        title: 'RL rewriter: reward and NLL',
        xLabel: 'GRPO step',
        yLabel: 'value',
        xInteger: true,
      });
  }
  if (m.passAtK.length) {
    const arms = [...new Set(m.passAtK.map((p) => p.arm))];
    specs['pass-at-k.svg'] = lineChart(
      arms.map((arm) => ({
        name: arm,
        points: m.passAtK
          .filter((p) => p.arm === arm)
          .sort((a, b) => a.k - b.k)
          .map((p) => ({ x: p.k, y: p.passRate })),
      })),
      {
        title: 'Pass rate against k (full gate)',
        xLabel: 'k (samples per record)',
        yLabel: 'share of records with a passing rewrite',
        yZero: true,
        xLog: true,
      },
    );
  }
  return specs;
}

function document(m: ReportModel, figures: Set<string>): Block[] {
  const b: Block[] = [];
  const h = (level: 1 | 2 | 3, text: string) => b.push({ kind: 'heading', level, text });
  const t = (text: string) => b.push({ kind: 'text', text });
  const table = (x: Table | null) => x && b.push({ kind: 'table', table: x });
  const fig = (file: string, title: string) => figures.has(file) && b.push({ kind: 'figure', file, title });
  h(1, `Pipeline report: ${m.name}`);
  t(
    `Fallback: '${m.fallback}' for every arm (${m.fallback === 'original' ? 'a record no candidate passed is trained on as y*' : 'a record no candidate passed leaves the SFT set'}). ` +
      `Reference arm: ${m.reference}; method: ${m.method}. Benchmarks: general ${m.general.join(', ')}; downstream ${m.downstream.join(', ') || 'none'}.`,
  );
  m.groups.forEach((g, i) => {
    h(
      2,
      `Backbone ${g.backbone}: ${g.seeds.length} run${g.seeds.length === 1 ? '' : 's'} (SFT and data seeds ${g.seeds.join(', ')})`,
    );
    t(
      g.seeds.length > 1
        ? `Pooled over the runs by a hierarchical bootstrap (runs, then items), ${g.strict.resamples} resamples, seed ${g.strict.seed}.`
        : `One run: paired bootstrap over items, ${g.strict.resamples} resamples, seed ${g.strict.seed}.`,
    );
    emptyText(m, g).forEach(t);
    h(3, 'Every arm: downstream accuracy (%), forgetting (points), the cut against vanilla and the method against it');
    table(armTable(g, m));
    h(3, 'Forgetting per general benchmark, strict extraction');
    table(perBenchmarkTable(g.strict));
    h(3, 'Forgetting per general benchmark, lenient extraction');
    table(perBenchmarkTable(g.lenient));
    fig(`forgetting-${i}.svg`, 'Forgetting per benchmark and arm, with 95% intervals');
    h(3, `Forgetting cut against ${m.reference}`);
    table(cutTable(g));
    h(3, `${m.method} against every other arm`);
    table(versusTable(g, m));
    h(3, "Each arm's SFT data (mean over the runs)");
    table(dataTable(g, m));
    fig(`plane-${i}.svg`, 'Every arm on the forgetting-vs-NLL plane, with the oracle mixtures');
    if (g.seeds.length > 1) {
      h(3, 'Mean forgetting per run (paired bootstrap within the run)');
      table(perRunTable(m, g.backbone));
    }
  });
  if (figures.has('rewriter-rates.svg') || figures.has('rewriter-reward.svg')) {
    h(2, 'The RL rewriter');
    fig('rewriter-rates.svg', 'Pass rates over the GRPO steps');
    fig('rewriter-reward.svg', 'Reward and backbone NLL over the GRPO steps');
  }
  if (m.passAtK.length) {
    h(2, 'Pass rate against k');
    fig('pass-at-k.svg', 'Share of records with at least one passing rewrite among k samples');
    table({
      head: ['arm', 'k', 'full pass rate', 'answer-only pass rate'],
      rows: m.passAtK.map((p) => [p.arm, String(p.k), share(p.passRate), share(p.answerPassRate ?? null)]),
    });
  }
  if (m.samples.length) {
    h(2, `Sample rewrites of ${m.method} beside their originals`);
    for (const sample of m.samples) b.push({ kind: 'sample', sample });
  }
  h(2, 'How to read this');
  for (const p of HOW_TO_READ) t(p);
  return b;
}

const rewardText = (r: Record<string, number> | null) =>
  r
    ? Object.entries(r)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join(', ')
    : 'not scored (one sample)';

// ---- Markdown ----

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const fence = (s: string) => '```\n' + s.replace(/```/g, '` ` `') + '\n```';

function markdown(blocks: Block[]): string {
  return (
    blocks
      .map((b) => {
        switch (b.kind) {
          case 'heading':
            return `${'#'.repeat(b.level)} ${b.text}`;
          case 'text':
            return b.text;
          case 'table':
            return [
              `| ${b.table.head.map(mdCell).join(' | ')} |`,
              `|${b.table.head.map(() => '---').join('|')}|`,
              ...b.table.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
            ].join('\n');
          case 'figure':
            return `![${b.title}](${b.file})`;
          case 'sample':
            return [
              `**${b.sample.id}** (${b.sample.rewriteSuccess ? 'rewritten' : 'fallback'}; reward: ${rewardText(b.sample.reward)})`,
              '',
              'Question:',
              fence(b.sample.question),
              'Original (y*):',
              fence(b.sample.original),
              'SFT answer:',
              fence(b.sample.answer),
            ].join('\n');
        }
      })
      .join('\n\n') + '\n'
  );
}

// ---- HTML ----

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{margin:1em 0}figcaption{font-size:13px;color:#555}
.sample{display:grid;grid-template-columns:1fr 1fr 1fr;gap:8px;border-top:1px solid #ddd;padding:8px 0}
pre{white-space:pre-wrap;background:#f8f8f8;padding:6px;margin:0;font-size:12px}`;

function html(blocks: Block[], svgs: Record<string, string>, title: string): string {
  const body = blocks.map((b) => {
    switch (b.kind) {
      case 'heading':
        return `<h${b.level}>${esc(b.text)}</h${b.level}>`;
      case 'text':
        return `<p>${esc(b.text)}</p>`;
      case 'table':
        return (
          `<table><thead><tr>${b.table.head.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>` +
          b.table.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') +
          '</tbody></table>'
        );
      case 'figure':
        return `<figure>${svgs[b.file]}<figcaption>${esc(b.title)}</figcaption></figure>`;
      case 'sample':
        return (
          `<div><b>${esc(b.sample.id)}</b> (${b.sample.rewriteSuccess ? 'rewritten' : 'fallback'}; reward: ${esc(rewardText(b.sample.reward))})` +
          `<div class="sample"><div>question<pre>${esc(b.sample.question)}</pre></div>` +
          `<div>original (y*)<pre>${esc(b.sample.original)}</pre></div>` +
          `<div>SFT answer<pre>${esc(b.sample.answer)}</pre></div></div></div>`
        );
    }
  });
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>\n<body>\n` +
    body.join('\n') +
    '\n</body></html>\n'
  );
}

/** The Markdown, the HTML page, and each figure's SVG by file name. */
export async function renderReport(
  m: ReportModel,
): Promise<{ markdown: string; html: string; figures: Record<string, string> }> {
  const specs = figureSpecs(m);
  const figures: Record<string, string> = {};
  let n = 0;
  // each figure's ids get their own prefix: the page inlines them all
  for (const [file, spec] of Object.entries(specs))
    figures[file] = await renderVegaLite(spec, { idPrefix: `f${n++}-` });
  const blocks = document(m, new Set(Object.keys(figures)));
  return { markdown: markdown(blocks), html: html(blocks, figures, `Pipeline report: ${m.name}`), figures };
}
