// A device worker killed mid-pipeline (SIGKILL of its process while an SFT child trains): the run
// completes on a new device worker, every stage output written before the kill is left as it was
// (not rewritten), no finished activity is scheduled again, and the interrupted SFT is retried.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { PROJECT_ROOT, TASK_QUEUE } from '../workers/settings';
import type { pipeline } from '../workflows/pipeline';
import type { PipelineProgress } from '../workflows/pipeline-progress';
import { cpuWorker, startTestServer, tempDir } from './helpers/temporal';

const STARTED = proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

let env: TestWorkflowEnvironment;
let cpu: Worker;
let cpuRunning: Promise<void>;
let home: string;
const devices: ChildProcess[] = [];
/** The device workers' stderr, shown when a wait times out. */
let log = '';

before(async () => {
  env = await startTestServer();
  home = await tempDir();
  cpu = await cpuWorker(env, join(home, 'artifacts'));
  cpuRunning = cpu.run();
});

after(async () => {
  for (const d of devices) if (d.exitCode === null) d.kill('SIGKILL');
  cpu.shutdown();
  await cpuRunning;
  await env.teardown();
});

/** `rewrite-rl worker --device cpu` as its own process on the test server and store. */
function deviceProcess(): ChildProcess {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'rewrite-rl.js'), 'worker', '--device', 'cpu'], {
    env: { ...process.env, REWRITE_RL_HOME: home, TEMPORAL_ADDRESS: env.connection.options.address },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d) => (log += d));
  devices.push(child);
  return child;
}

/** Every complete stage output (a folder with a manifest) under the store, with its manifest's mtime. */
function manifests(dir: string, out = new Map<string, number>()): Map<string, number> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.tmp-')) continue;
    const sub = join(dir, e.name);
    try {
      out.set(sub, statSync(join(sub, 'manifest.json')).mtimeMs);
    } catch {
      // not a stage output itself; its children may be
    }
    manifests(sub, out);
  }
  return out;
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 300_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the device workers said:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a device worker killed mid-pipeline: the run completes without redoing finished stages', async () => {
  const first = deviceProcess();
  const handle = await env.client.workflow.start<typeof pipeline>('pipeline', {
    taskQueue: TASK_QUEUE,
    workflowId: 'pipeline-killed',
    // SFT long enough (about a hundred steps) to be caught training
    args: [{ recipe: 'test', arms: ['vanilla', 'prompted', 'oracle'], rewrite: { samples: 2 }, sft: { epochs: 25 } }],
  });
  // wait until the device trains the second arm's SFT (so stages before it are finished), then kill it
  const victim = await until('an SFT activity running after another arm finished', async () => {
    const p = await handle.query<PipelineProgress>('progress');
    if (!p.stages.some((s) => s.name.startsWith('sft:') && s.state === 'done')) return undefined;
    for (const s of p.stages.filter((x) => x.name.startsWith('sft:') && x.state === 'running')) {
      const [, arm, seed] = s.name.split(':');
      const d = await env.client.workflow.getHandle(`pipeline-killed/sft-${arm}-${seed}`).describe();
      if (d.raw.pendingActivities?.some((a) => a.state === STARTED)) return d.workflowId;
    }
    return undefined;
  });
  const before = manifests(join(home, 'artifacts'));
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.ok(before.size > 0);

  deviceProcess();
  const out = await handle.result();
  assert.deepEqual(
    out.arms.map((a) => a.arm),
    ['vanilla', 'prompted', 'oracle'],
  );

  // everything written before the kill is still there, untouched: nothing finished was redone
  const afterwards = manifests(join(home, 'artifacts'));
  for (const [dir, mtime] of before) assert.equal(afterwards.get(dir), mtime, `${dir} was rewritten`);
  assert.ok(afterwards.size > before.size, 'the stages after the kill wrote their outputs');

  // no activity of the pipeline was scheduled twice, and the interrupted SFT ran a second attempt
  const history = await handle.fetchHistory();
  const scheduled = (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a ? [`${a.activityType?.name} ${Buffer.from(a.input!.payloads![0].data!).toString('utf8')}`] : [];
  });
  assert.equal(new Set(scheduled).size, scheduled.length);
  const sftHistory = await env.client.workflow.getHandle(victim).fetchHistory();
  const attempts = (sftHistory.events ?? []).flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
  assert.ok(
    attempts.some((a) => a >= 2),
    `${victim}: attempts ${attempts}`,
  );
});
