// What a person reads when a workflow finishes: its tables and the paths of what it wrote, one
// renderer per workflow, typed by the workflow's own output. A workflow added to workflows/index.ts
// fails typecheck here until it has one, so `rewrite-rl run` knows every workflow by name.
import { join } from 'node:path';
import { ArtifactStore } from '../../activities/artifact-store';
import type * as workflows from '../../workflows';
import type { Settings } from '../../workers/settings';
import { trainRewriterTable } from '../train-rewriter-command';
import { pipelineTable } from './pipeline-table';

// 'default' is the handler of workflow types no worker has: it has no result to render
export type WorkflowName = Exclude<keyof typeof workflows, 'default'>;
export type WorkflowOutput<W extends WorkflowName> = Awaited<ReturnType<(typeof workflows)[W]>>;

type Renderer<W extends WorkflowName> = (r: WorkflowOutput<W>, path: (ref: string) => string) => string[];

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const points = (x: number) => x.toFixed(1);

/** The rewriterProbe's rates as a Markdown table, one row per temperature. */
export function probeTable(r: WorkflowOutput<'rewriterProbe'>): string {
  return [
    `### The prompted rewriter at step 0 (${r.recipe} recipe, ${r.arm} training set, ${r.runs[0]?.records ?? 0} records)`,
    '',
    '| temperature | samples | pass rate, full gate | pass rate, answer only | sample pass rate, full | sample pass rate, answer only | copy rate | truncated |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.runs.map(
      (x) =>
        `| ${x.temperature === 0 ? 'greedy' : x.temperature} | ${x.samples} | ${percent(x.passRate)} | ` +
        `${percent(x.answerPassRate)} | ${percent(x.samplePassRate)} | ${percent(x.sampleAnswerPassRate)} | ` +
        `${percent(x.copyRate)} | ${x.truncated} |`,
    ),
  ].join('\n');
}

function evaluationTable(r: WorkflowOutput<'evaluate'>): string[] {
  return [
    '| benchmark | role | items | strict | lenient | truncated |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...r.results.map(
      (b) =>
        `| ${b.benchmark} | ${b.role} | ${b.items} | ${points(b.strict)} | ${points(b.lenient)} | ${b.truncated} |`,
    ),
    ...(['general', 'downstream'] as const).flatMap((role) =>
      r[role] ? [`| mean ${role} | | | ${points(r[role].strict)} | ${points(r[role].lenient)} | |`] : [],
    ),
  ];
}

const RENDERERS: { [W in WorkflowName]: Renderer<W> } = {
  importDataset: (r, path) => [
    `imported ${r.counts.valid} of ${r.counts.read} records (${r.counts.duplicates} duplicates, ` +
      `${r.counts.rejected} rejected): ${r.counts.train} train, ${r.counts.test} test${r.reused ? ' (already imported)' : ''}`,
    `the dataset: ${path(r.uri)}`,
    ...(r.counts.rejected > 0 ? [`the rejects: ${path(r.rejects.uri)}`] : []),
  ],
  evaluate: (r, path) => [
    ...evaluationTable(r),
    '',
    ...r.results.map((b) => `the predictions of ${b.benchmark}: ${path(b.uri)}`),
  ],
  sft: (r, path) => [
    `fine-tuned for ${r.steps} steps on ${r.examples} examples: loss ${r.firstLoss.toFixed(4)} -> ${r.finalLoss.toFixed(4)}` +
      (r.reused ? ' (already trained)' : ''),
    `the model: ${path(r.model.uri)}`,
    `the training log: ${path(r.log)}`,
  ],
  pretrain: (r, path) => [
    `the ${r.world.recipe.name} backbone: pretrained for ${r.pretraining.steps} steps, final loss ${r.pretraining.finalLoss.toFixed(4)}`,
    `the backbone: ${path(r.backbone.uri)}`,
    `the world's data: ${path(r.world.uri)}`,
  ],
  worldForgetting: (r, path) => [
    r.report.markdown,
    '',
    `the report: ${join(path(r.report.uri), 'forgetting.md')}`,
    ...(r.report.doseResponse?.svg ? [`the dose-response plot: ${path(r.report.doseResponse.svg)}`] : []),
  ],
  trainRewriter: (r, path) => [
    trainRewriterTable(r),
    '',
    `metrics: ${path(r.metrics)}`,
    `curves: ${path(r.curves)}`,
    ...(r.best.adapter ? [`best adapter: ${path(r.best.adapter)}`] : []),
  ],
  pipeline: pipelineTable,
  rewriterProbe: (r, path) => [
    probeTable(r),
    '',
    ...r.runs.map((run) => `the rewrites at temperature ${run.temperature}: ${path(run.uri)}`),
  ],
};

export const WORKFLOW_NAMES = Object.keys(RENDERERS) as WorkflowName[];

export function isWorkflowName(name: string): name is WorkflowName {
  return Object.hasOwn(RENDERERS, name);
}

/** The result of `workflow` as text for a person: tables, then absolute paths of what it wrote. */
export function render<W extends WorkflowName>(s: Settings, workflow: W, value: WorkflowOutput<W>): string {
  const store = new ArtifactStore(s.artifactRoot);
  const path = (ref: string) => {
    try {
      return store.resolve(ref);
    } catch {
      return ref; // a model given by absolute path lives outside the store
    }
  };
  return (RENDERERS[workflow] as Renderer<W>)(value, path).join('\n');
}
