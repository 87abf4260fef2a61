// The rewrite-rl command line. Exit codes a script can rely on:
//   0 success · 1 the workflow failed, or there was nothing to do · 2 bad usage or invalid input
//   3 no Temporal server reachable or findable · 4 the workflow is still running
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { ArtifactStore } from '../activities/artifact-store';
import { stageFile } from '../activities/datasets/stage';
import { withWorkers } from '../workers/in-process';
import { runWorkersUntilSignal } from '../workers/run';
import { TemporalNotFoundError } from './binary';
import { followTrainRewriter, trainRewriterTable } from './train-rewriter-command';
import type { TrainRewriterOutput } from '../workflows/train-rewriter';
import { connectClient } from './connection';
import { ServerUnreachableError } from '../workers/connection';
import { serverStatus, startDevServer, stopDevServer } from './server';
import { TASK_QUEUE, settingsFromEnv, type Settings } from '../workers/settings';

export const EXIT = { ok: 0, failed: 1, usage: 2, noServer: 3, running: 4 } as const;

class UsageError extends Error {}

const HELP = `rewrite-rl — RL data rewriting for stable off-policy SFT, on Temporal

Usage:
  rewrite-rl demo [--recipe default|test] [--arms foreign,oracle,...] [--seed S] [--sft-seed S]
        [--data-seed S]
                                           the main job on the embedded default (what \`npm start\` runs):
                                           the same as \`rewrite-rl world\`
  rewrite-rl server start|stop|status      the local Temporal dev server (UI on port 8233)
  rewrite-rl worker [--cpu] [--device D]   run workers until Ctrl-C; D is cpu or cuda:N
                                           (no flag: the CPU worker and a cpu device worker)
  rewrite-rl run <workflow> --input F      start a workflow with the JSON object in file F and wait
  rewrite-rl status <workflow-id>          a workflow's status (and result when done)
  rewrite-rl import <file> [--map question=problem,answer=solution] [--name N]
        [--format jsonl|json|parquet] [--test-fraction F | --test-size N] [--seed S] [--max-bad-fraction F]
  rewrite-rl world [--recipe default|test] [--arms foreign,oracle,...] [--seed S] [--sft-seed S]
        [--data-seed S]
                                           pretrain (or reuse) the embedded backbone, score each arm's
                                           SFT data under it (NLL), fine-tune the arms, evaluate; print
                                           the forgetting tables, the dose-response (forgetting against
                                           NLL, with a plot) and, with several arms, each arm's forgetting
                                           reduction vs foreign (defaults: recipe default, arms foreign;
                                           --seed is the world's seed, --sft-seed the SFT data order's,
                                           --data-seed the downstream training sample's)
  rewrite-rl train-rewriter [--preset world|paper|test] [--input f.json] [--recipe R] [--seed S]
        [--rl-seed S] [--steps N]
                                           trains the RL rewriter (GRPO) with live progress; fields of
                                           f.json override the preset (schemas/json/train-rewriter-input)
  rewrite-rl probe [--recipe default|test] [--seed S] [--arm A] [--limit N] [--temperatures 0,0.8]
        [--samples K] [--sample-seed S]
                                           the prompted rewriter at step 0 (the backbone with the rewrite
                                           prompt, no training): its gate pass rate on the downstream
                                           training set A (default foreign), greedy (temperature 0) and
                                           sampled (K rewrites per record); prints a table of the rates

Options for run, import, world, demo and probe: --no-worker (only start; workers run elsewhere), --no-wait, --id ID.
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* (a real server or
cluster), REWRITE_RL_HOME (data folder, default ./.rewrite-rl), REWRITE_RL_ARTIFACTS (artifact store),
REWRITE_RL_SERVER_PORT and REWRITE_RL_UI_PORT (the dev server's ports).
Exit codes: 0 ok, 1 workflow failed, 2 bad usage or input, 3 no server, 4 still running.`;

const out = (line = '') => process.stdout.write(line + '\n');
const err = (line: string) => process.stderr.write(line + '\n');

function uiLink(s: Settings, workflowId: string): string | undefined {
  const base = s.address ? process.env.TEMPORAL_UI_URL : `http://localhost:${s.uiPort}`;
  return base ? `${base}/namespaces/${s.namespace}/workflows/${encodeURIComponent(workflowId)}` : undefined;
}

/** Makes sure a server is there: the user's (TEMPORAL_ADDRESS) or the local dev server, started if needed. */
async function ensureServer(s: Settings): Promise<void> {
  if (s.address) return;
  const started = await startDevServer(s, err);
  if (!started.reused)
    err(
      `started the Temporal dev server at ${started.address} (UI ${started.uiUrl}); stop it with \`rewrite-rl server stop\``,
    );
}

interface StartOptions {
  worker: boolean;
  wait: boolean;
  id?: string;
}

async function startAndWait(
  s: Settings,
  workflow: string,
  input: unknown,
  o: StartOptions,
  onResult?: (value: unknown) => void,
  /** Waits for the result itself (for example following a progress query); default: handle.result(). */
  follow?: (handle: WorkflowHandle) => Promise<unknown>,
): Promise<number> {
  await ensureServer(s);
  const client = await connectClient(s);
  const workflowId =
    o.id ?? `${workflow}-${new Date().toISOString().replace(/[-:.TZ]/g, '')}-${Math.random().toString(36).slice(2, 6)}`;
  const go = async () => {
    const handle = await client.workflow.start(workflow, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    err(`started ${workflow} as ${workflowId}${uiLink(s, workflowId) ? ` — ${uiLink(s, workflowId)}` : ''}`);
    if (!o.wait) return EXIT.ok;
    const outcome = await (follow ? follow(handle) : handle.result()).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const code = report(outcome);
    if (outcome.ok) {
      onResult?.(outcome.value);
      const link = uiLink(s, workflowId);
      if (link) err(`the run in the Temporal UI: ${link}`);
    }
    return code;
  };
  try {
    return o.worker ? await withWorkers(s, { cpu: true, device: 'cpu' }, go) : await go();
  } finally {
    await client.connection.close();
  }
}

function report(r: { ok: true; value: unknown } | { ok: false; error: unknown }): number {
  if (r.ok) {
    out(JSON.stringify(r.value, null, 2));
    return EXIT.ok;
  }
  // the useful failure is the innermost: workflow -> activity -> application failure
  let cause: unknown = r.error instanceof WorkflowFailedError ? r.error.cause : r.error;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  err(`workflow failed${type ? ` (${type})` : ''}: ${message}`);
  return type === 'InvalidInput' ? EXIT.usage : EXIT.failed;
}

async function stage(s: Settings, file: string): Promise<string> {
  return stageFile(new ArtifactStore(s.artifactRoot), resolve(file)).catch((e: Error) => {
    throw new UsageError(e.message);
  });
}

function parseMap(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const map: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=').map((x) => x.trim());
    if (!key || !value)
      throw new UsageError(`--map expects target=source pairs like question=problem,answer=solution; got "${pair}"`);
    map[key] = value;
  }
  return map;
}

function num(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got "${text}"`);
  return n;
}

function int(text: string | undefined, flag: string): number | undefined {
  const n = num(text, flag);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${flag} expects an integer, got "${text}"`);
  return n;
}

function numbers(text: string | undefined, flag: string): number[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((x) => x.trim());
  const ns = parts.map(Number);
  const bad = parts.findIndex((x, i) => x === '' || !Number.isFinite(ns[i]));
  if (bad >= 0) throw new UsageError(`${flag} expects comma-separated numbers like 0,0.8; got "${text}"`);
  return ns;
}

export async function runImport(
  s: Settings,
  file: string,
  v: Record<string, string | boolean | undefined>,
  o: StartOptions,
) {
  const source = await stage(s, file);
  const testSize = num(v['test-size'] as string | undefined, '--test-size');
  const testFraction = num(v['test-fraction'] as string | undefined, '--test-fraction');
  const input = {
    source,
    ...(v.name ? { name: v.name } : {}),
    ...(v.format ? { format: v.format } : {}),
    ...(parseMap(v.map as string | undefined) ? { map: parseMap(v.map as string | undefined) } : {}),
    ...(testSize !== undefined || testFraction !== undefined
      ? {
          split: {
            ...(testSize !== undefined ? { testSize } : {}),
            ...(testFraction !== undefined ? { testFraction } : {}),
          },
        }
      : {}),
    ...(v.seed !== undefined ? { seed: num(v.seed as string, '--seed') } : {}),
    ...(v['max-bad-fraction'] !== undefined
      ? { maxBadFraction: num(v['max-bad-fraction'] as string, '--max-bad-fraction') }
      : {}),
  };
  return startAndWait(s, 'importDataset', input, o);
}

/** The main job (worldForgetting) on the embedded world; prints the report's Markdown and the plot's path. */
async function runWorld(s: Settings, v: Record<string, string | boolean | undefined>, o: StartOptions) {
  const arms = v.arms as string | undefined;
  const input = {
    ...(v.recipe ? { recipe: v.recipe } : {}),
    ...(arms ? { arms: arms.split(',').map((a) => a.trim()) } : {}),
    ...(v.seed !== undefined ? { seed: num(v.seed as string, '--seed') } : {}),
    ...(v['sft-seed'] !== undefined ? { sftSeed: num(v['sft-seed'] as string, '--sft-seed') } : {}),
    ...(v['data-seed'] !== undefined ? { dataSeed: num(v['data-seed'] as string, '--data-seed') } : {}),
  };
  return startAndWait(s, 'worldForgetting', input, o, (value) => {
    const report = (value as { report?: { markdown?: string; doseResponse?: { svg?: string } } }).report;
    if (report?.markdown) err('\n' + report.markdown);
    const svg = report?.doseResponse?.svg;
    if (svg) err(`the dose-response plot: ${new ArtifactStore(s.artifactRoot).resolve(svg)}`);
  });
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The rewriterProbe's rates as a Markdown table, one row per temperature. */
export function probeTable(value: unknown): string {
  const r = value as {
    recipe: string;
    arm: string;
    runs: {
      temperature: number;
      samples: number;
      records: number;
      passRate: number;
      answerPassRate?: number;
      samplePassRate: number;
      sampleAnswerPassRate?: number;
      copyRate: number;
      truncated: number;
    }[];
  };
  const lines = [
    `### The prompted rewriter at step 0 (${r.recipe} recipe, ${r.arm} training set, ${r.runs[0]?.records ?? 0} records)`,
    '',
    '| temperature | samples | pass rate, full gate | pass rate, answer only | sample pass rate, full | sample pass rate, answer only | copy rate | truncated |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.runs.map(
      (x) =>
        `| ${x.temperature === 0 ? 'greedy' : x.temperature} | ${x.samples} | ${percent(x.passRate)} | ` +
        `${x.answerPassRate === undefined ? '—' : percent(x.answerPassRate)} | ${percent(x.samplePassRate)} | ` +
        `${x.sampleAnswerPassRate === undefined ? '—' : percent(x.sampleAnswerPassRate)} | ${percent(x.copyRate)} | ${x.truncated} |`,
    ),
  ];
  return lines.join('\n');
}

/** rewriterProbe on the embedded world; prints the pass rates and where the rewrites are. */
async function runProbe(s: Settings, v: Record<string, string | boolean | undefined>, o: StartOptions) {
  const temperatures = numbers(v.temperatures as string | undefined, '--temperatures');
  const input = {
    ...(v.recipe ? { recipe: v.recipe } : {}),
    ...(v.seed !== undefined ? { seed: int(v.seed as string, '--seed') } : {}),
    ...(v.arm ? { arm: v.arm } : {}),
    ...(v.limit !== undefined ? { limit: int(v.limit as string, '--limit') } : {}),
    ...(temperatures ? { temperatures } : {}),
    ...(v.samples !== undefined ? { samples: int(v.samples as string, '--samples') } : {}),
    ...(v['sample-seed'] !== undefined ? { sampleSeed: int(v['sample-seed'] as string, '--sample-seed') } : {}),
  };
  return startAndWait(s, 'rewriterProbe', input, o, (value) => {
    err('\n' + probeTable(value));
    const store = new ArtifactStore(s.artifactRoot);
    for (const run of (value as { runs: { temperature: number; uri: string }[] }).runs)
      err(`the rewrites at temperature ${run.temperature}: ${store.resolve(run.uri)}`);
  });
}

/** trainRewriter with live progress; prints the validations and the paths of the run's metrics and curves. */
async function runTrainRewriter(s: Settings, v: Record<string, string | boolean | undefined>, o: StartOptions) {
  let input: Record<string, unknown> = {};
  if (v.input) {
    try {
      input = JSON.parse(await readFile(v.input as string, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--input ${String(v.input)}: ${(e as Error).message}`);
    }
  }
  input = {
    ...input,
    ...(v.preset ? { preset: v.preset } : {}),
    ...(v.recipe ? { recipe: v.recipe } : {}),
    ...(v.seed !== undefined ? { seed: int(v.seed as string, '--seed') } : {}),
    ...(v['rl-seed'] !== undefined ? { rlSeed: int(v['rl-seed'] as string, '--rl-seed') } : {}),
    ...(v.steps !== undefined ? { steps: int(v.steps as string, '--steps') } : {}),
  };
  return startAndWait(
    s,
    'trainRewriter',
    input,
    o,
    (value) => {
      const r = value as TrainRewriterOutput;
      const store = new ArtifactStore(s.artifactRoot);
      err('\n' + trainRewriterTable(r));
      err(`metrics: ${store.resolve(r.metrics)}`);
      err(`curves: ${store.resolve(r.curves)}`);
      if (r.best.adapter) err(`best adapter: ${store.resolve(r.best.adapter)}`);
    },
    (handle) => followTrainRewriter(handle, err),
  );
}

async function status(s: Settings, client: Client, workflowId: string): Promise<number> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  out(`${workflowId}: ${d.status.name} (type ${d.type}, started ${d.startTime.toISOString()})`);
  const attrs = d.typedSearchAttributes;
  for (const pair of attrs.getAll()) out(`  ${pair.key.name} = ${JSON.stringify(pair.value)}`);
  const link = uiLink(s, workflowId);
  if (link) out(`  ${link}`);
  if (d.status.name === 'RUNNING') return EXIT.running;
  if (d.status.name === 'COMPLETED') {
    out(JSON.stringify(await handle.result(), null, 2));
    return EXIT.ok;
  }
  return EXIT.failed;
}

export /** Logs warnings, except the device worker's notice that it has no workflows (it is not meant to). */
function quietLog(entry: LogEntry): void {
  if (entry.message.startsWith('No workflows registered')) return;
  process.stderr.write(
    `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}${entry.meta ? ' ' + JSON.stringify(entry.meta) : ''}\n`,
  );
}

async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: pos } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      input: { type: 'string' },
      id: { type: 'string' },
      device: { type: 'string' },
      cpu: { type: 'boolean' },
      'no-worker': { type: 'boolean' },
      'no-wait': { type: 'boolean' },
      map: { type: 'string' },
      name: { type: 'string' },
      format: { type: 'string' },
      'test-fraction': { type: 'string' },
      'test-size': { type: 'string' },
      seed: { type: 'string' },
      'max-bad-fraction': { type: 'string' },
      recipe: { type: 'string' },
      arms: { type: 'string' },
      'sft-seed': { type: 'string' },
      'data-seed': { type: 'string' },
      arm: { type: 'string' },
      limit: { type: 'string' },
      temperatures: { type: 'string' },
      samples: { type: 'string' },
      'sample-seed': { type: 'string' },
      preset: { type: 'string' },
      'rl-seed': { type: 'string' },
      steps: { type: 'string' },
    },
  });
  const s = settingsFromEnv();
  const [command, arg] = pos;
  // Workers started by run, import and demo only say something when it matters; `worker` logs as usual.
  if (command !== 'worker') Runtime.install({ logger: new DefaultLogger('WARN', quietLog) });
  const start: StartOptions = { worker: !v['no-worker'], wait: !v['no-wait'], id: v.id };
  if (v.help || !command) {
    out(HELP);
    return command || v.help ? EXIT.ok : EXIT.usage;
  }
  switch (command) {
    case 'server': {
      if (arg === 'start') {
        if (s.address) {
          const st = await serverStatus(s);
          out(
            `TEMPORAL_ADDRESS is set (${s.address}): not starting a dev server; it is ${st.reachable ? 'reachable' : 'NOT reachable'}`,
          );
          return st.reachable ? EXIT.ok : EXIT.noServer;
        }
        const r = await startDevServer(s, err);
        out(
          `${r.reused ? 'a Temporal server is already running' : 'started the Temporal dev server'} at ${r.address}; UI ${r.uiUrl}`,
        );
        if (r.info) out(`  pid ${r.info.pid}, data ${r.info.dbFile}, log ${r.info.logFile}`);
        return EXIT.ok;
      }
      if (arg === 'stop') {
        const stopped = await stopDevServer(s);
        out(stopped ? 'stopped the Temporal dev server' : 'no dev server started by rewrite-rl is running');
        return stopped ? EXIT.ok : EXIT.failed;
      }
      if (arg === 'status') {
        const st = await serverStatus(s);
        out(
          `${st.address}: ${st.reachable ? 'reachable' : 'not reachable'}${st.info ? ` (dev server pid ${st.info.pid}, UI http://localhost:${st.info.uiPort})` : ''}`,
        );
        return st.reachable ? EXIT.ok : EXIT.noServer;
      }
      throw new UsageError('server expects start, stop or status');
    }
    case 'worker': {
      const cpu = !!v.cpu || !v.device;
      const device = v.device ?? (v.cpu ? undefined : 'cpu');
      await runWorkersUntilSignal(s, { cpu, device }, err);
      return EXIT.ok;
    }
    case 'run': {
      if (!arg || !v.input) throw new UsageError('run expects <workflow> --input file.json');
      let input: unknown;
      try {
        input = JSON.parse(await readFile(v.input, 'utf8'));
      } catch (e) {
        throw new UsageError(`--input ${v.input}: ${(e as Error).message}`);
      }
      return startAndWait(s, arg, input, start);
    }
    case 'status': {
      if (!arg) throw new UsageError('status expects a workflow id');
      const client = await connectClient(s);
      try {
        return await status(s, client, arg);
      } finally {
        await client.connection.close();
      }
    }
    case 'import':
      if (!arg) throw new UsageError('import expects a file');
      return runImport(s, arg, v, start);
    case 'world':
    case 'demo':
      return runWorld(s, v, start);
    case 'probe':
      return runProbe(s, v, start);
    case 'train-rewriter':
      return runTrainRewriter(s, v, start);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

export async function cli(argv: string[]): Promise<never> {
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`rewrite-rl: ${(e as Error).message}\n(run \`rewrite-rl --help\`)`);
      code = EXIT.usage;
    } else if (e instanceof ServerUnreachableError || e instanceof TemporalNotFoundError) {
      err(`rewrite-rl: ${(e as Error).message}`);
      code = EXIT.noServer;
    } else {
      err(`rewrite-rl: ${(e as Error).stack ?? e}`);
      code = EXIT.failed;
    }
  }
  process.exit(code);
}
