// What every command shares: exit codes, flag parsing helpers, the server and the start-and-wait of a
// workflow with its result rendered for a person (or printed as JSON for a script).
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import type { ParseArgsConfig } from 'node:util';
import { withWorkers } from '../../workers/in-process';
import { TASK_QUEUE, type Settings } from '../../workers/settings';
import { connectClient } from '../connection';
import { startDevServer } from '../server';
import { render, type WorkflowName, type WorkflowOutput } from './render';

/** Exit codes a script can rely on (README: "Exit codes"). */
export const EXIT = { ok: 0, failed: 1, usage: 2, noServer: 3, running: 4 } as const;

/** Bad usage: exit 2 with the message and a pointer to --help. */
export class UsageError extends Error {}

export const out = (line = '') => process.stdout.write(line + '\n');
export const err = (line: string) => process.stderr.write(line + '\n');

export type Flags = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** One command: its flags, how many positionals it takes, its help lines, and what it does. */
export interface Command {
  name: string;
  aliases?: string[];
  /** Help lines, the first starting with the usage. */
  help: string;
  flags: Flags;
  /** Positional arguments after the command: [at least, at most]. */
  positionals: [number, number];
  run(s: Settings, positionals: string[], values: Values): Promise<number>;
}

/** The flags of every command that starts a workflow. */
export const START_FLAGS: Flags = {
  'no-worker': { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  id: { type: 'string' },
  json: { type: 'boolean' },
};
export const START_HELP = '--no-worker (workers run elsewhere), --no-wait, --id ID, --json (the result as JSON)';

export interface StartOptions {
  worker: boolean;
  wait: boolean;
  json: boolean;
  id?: string;
}

export function startOptions(v: Values): StartOptions {
  return { worker: !v['no-worker'], wait: !v['no-wait'], json: !!v.json, id: v.id as string | undefined };
}

export function num(text: string | boolean | undefined, flag: string): number | undefined {
  if (text === undefined || typeof text === 'boolean') return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got "${text}"`);
  return n;
}

export function int(text: string | boolean | undefined, flag: string): number | undefined {
  const n = num(text, flag);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${flag} expects an integer, got "${text}"`);
  return n;
}

export function numbers(text: string | boolean | undefined, flag: string): number[] | undefined {
  if (text === undefined || typeof text === 'boolean') return undefined;
  const parts = text.split(',').map((x) => x.trim());
  const ns = parts.map(Number);
  const bad = parts.findIndex((x, i) => x === '' || !Number.isFinite(ns[i]));
  if (bad >= 0) throw new UsageError(`${flag} expects comma-separated numbers like 0,0.8; got "${text}"`);
  return ns;
}

export function uiLink(s: Settings, workflowId: string): string | undefined {
  const base = s.address ? process.env.TEMPORAL_UI_URL : `http://localhost:${s.uiPort}`;
  return base ? `${base}/namespaces/${s.namespace}/workflows/${encodeURIComponent(workflowId)}` : undefined;
}

/** Makes sure a server is there: the user's (TEMPORAL_ADDRESS) or the local dev server, started if needed. */
export async function ensureServer(s: Settings): Promise<void> {
  if (s.address) return;
  const started = await startDevServer(s, err);
  if (!started.reused)
    err(
      `started the Temporal dev server at ${started.address} (UI ${started.uiUrl}); stop it with \`rewrite-rl server stop\``,
    );
}

/**
 * Starts `workflow` and, unless --no-wait, waits for it: a person gets the rendered result on stdout,
 * a script with --json gets the result as JSON on stdout (and the rendering on stderr).
 */
export async function startAndWait<W extends WorkflowName>(
  s: Settings,
  workflow: W,
  input: unknown,
  o: StartOptions,
  /** Waits for the result itself (for example following a progress query); default: handle.result(). */
  follow?: (handle: WorkflowHandle) => Promise<unknown>,
): Promise<number> {
  await ensureServer(s);
  const client = await connectClient(s);
  const workflowId =
    o.id ?? `${workflow}-${new Date().toISOString().replace(/[-:.TZ]/g, '')}-${Math.random().toString(36).slice(2, 6)}`;
  const go = async () => {
    const handle = await client.workflow.start(workflow, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    const link = uiLink(s, workflowId);
    err(`started ${workflow} as ${workflowId}${link ? ` — ${link}` : ''}`);
    if (!o.wait) return EXIT.ok;
    let value: WorkflowOutput<W>;
    try {
      value = (await (follow ? follow(handle) : handle.result())) as WorkflowOutput<W>;
    } catch (e) {
      return reportFailure(e);
    }
    printResult(s, workflow, value, o.json);
    if (link) err(`the run in the Temporal UI: ${link}`);
    return EXIT.ok;
  };
  try {
    return o.worker ? await withWorkers(s, { cpu: true, device: 'cpu' }, go) : await go();
  } finally {
    await client.connection.close();
  }
}

export function printResult<W extends WorkflowName>(s: Settings, workflow: W, value: WorkflowOutput<W>, json: boolean) {
  const text = render(s, workflow, value);
  if (json) {
    out(JSON.stringify(value, null, 2));
    err('\n' + text);
  } else out(text);
}

/**
 * Failure types that mean the input was bad (exit 2, like bad usage): activities/failures.ts and
 * workflows/validate.ts raise them. Anything else is a failed run (exit 1).
 */
const BAD_INPUT = new Set(['InvalidInput', 'BadRecords', 'PathEscape', 'BadSourceFile']);

/** Prints the innermost failure (workflow -> activity -> application failure) and returns its exit code. */
export function reportFailure(error: unknown): number {
  let cause: unknown = error instanceof WorkflowFailedError ? error.cause : error;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  err(`workflow failed${type ? ` (${type})` : ''}: ${message}`);
  return type && BAD_INPUT.has(type) ? EXIT.usage : EXIT.failed;
}

/**
 * The log of workers a command runs in-process: warnings only, without the device worker's notice that
 * it has no workflows (it is not meant to) and without the worker's report of a failed activity (the
 * failure reaches the user through the workflow's result, once, without task tokens).
 */
export function quietLog(entry: LogEntry): void {
  if (entry.message.startsWith('No workflows registered')) return;
  if (entry.message === 'Activity failed') return;
  process.stderr.write(
    `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}${entry.meta ? ' ' + JSON.stringify(entry.meta) : ''}\n`,
  );
}
