// `rewrite-rl train-rewriter`: starts trainRewriter and follows it through its `progress` query: a live
// bar (step of total, reward, pass rates, ETA) on a terminal, a line per step otherwise; at the end a
// table of the validations and the paths of the run's metrics and curves.
import cliProgress from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { TrainRewriterOutput, TrainRewriterProgress } from '../workflows/train-rewriter';

const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '—');
const num = (x: unknown, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');

/** Follows a running trainRewriter until it ends; returns its result (or throws its failure). */
export async function followTrainRewriter(
  handle: WorkflowHandle,
  err: (line: string) => void,
  everyMs = 2000,
): Promise<TrainRewriterOutput> {
  const tty = process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format:
            'trainRewriter {bar} step {value}/{total} | {stage} | reward {reward} | pass {full} (answer {answer}) | val {val} | ETA {etaText}',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  let lastStep = -1;
  const result = handle.result() as Promise<TrainRewriterOutput>;
  let done = false;
  void result.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    const p = await handle.query<TrainRewriterProgress>('progress').catch(() => undefined);
    if (p) {
      const fields = {
        stage: p.paused ? 'paused' : p.stage,
        reward: num(p.last?.rewardMean),
        full: pct(p.last?.fullPassRate),
        answer: pct(p.last?.answerPassRate),
        val: pct(
          (p.last?.val as Record<string, unknown> | undefined)?.greedyFullPassRate ?? p.best?.greedyFullPassRate,
        ),
        etaText: p.etaSeconds !== undefined ? `${Math.floor(p.etaSeconds / 60)}m${p.etaSeconds % 60}s` : '—',
      };
      if (bar) {
        if (!started) bar.start(p.of, p.step, fields);
        else bar.update(p.step, fields);
        started = true;
      } else if (p.step !== lastStep) {
        err(
          `step ${p.step}/${p.of} (${fields.stage}): reward ${fields.reward}, full pass ${fields.full}, answer ${fields.answer}, ` +
            `validation ${fields.val}, ETA ${fields.etaText}`,
        );
      }
      lastStep = p.step;
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, everyMs))]);
  }
  bar?.stop();
  return result;
}

/** The validations and where the run's files are. */
export function trainRewriterTable(r: TrainRewriterOutput): string {
  const lines = [
    `### trainRewriter: ${r.steps} steps; best checkpoint step ${r.best.step} (greedy full pass ${pct(r.best.greedyFullPassRate)})`,
    '',
    '| step | greedy full | greedy answer-only | k-sample full | k-sample answer-only | NLL of chosen | NLL of oracle | diversity | copy rate |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.validations.map(
      (v) =>
        `| ${v.step} | ${pct(v.greedyFullPassRate)} | ${pct(v.greedyAnswerPassRate)} | ${pct(v.kFullPassRate)} | ` +
        `${pct(v.kAnswerPassRate)} | ${num(v.meanNll)} | ${num(v.oracleNll)} | ${num(v.diversity, 4)} | ${pct(v.copyRate)} |`,
    ),
  ];
  if (r.adjustments.length)
    lines.push('', ...r.adjustments.map((a) => `adjusted from step ${a.fromStep}: ${JSON.stringify(a.values)}`));
  return lines.join('\n');
}
