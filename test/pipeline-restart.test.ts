// A device worker killed mid-pipeline (SIGKILL of its process while an SFT child trains): the run
// completes on a new device worker, every stage output written before the kill is left as it was
// (not rewritten), no finished activity is scheduled again, and the interrupted SFT is retried.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { TASK_QUEUE } from '../workers/settings';
import type { pipeline } from '../workflows/pipeline';
import type { PipelineProgress } from '../workflows/pipeline-progress';
import { cpuWorker, deviceWorkerProcess, killWorkerProcesses, startTestServer, tempDir } from './helpers/temporal';

const STARTED = proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

let env: TestWorkflowEnvironment;
let cpu: Worker;
let cpuRunning: Promise<void>;
let home: string;
/** The device workers' stderr, shown when a wait times out. */
let log = '';

before(async () => {
  env = await startTestServer();
  home = await tempDir();
  cpu = await cpuWorker(env, join(home, 'artifacts'));
  cpuRunning = cpu.run();
});

after(async () => {
  killWorkerProcesses();
  cpu.shutdown();
  await cpuRunning;
  await env.teardown();
});

/** A device worker process (`rewrite-rl worker --device cpu`) on the test server and store; its stderr kept. */
async function deviceProcess(): Promise<ChildProcess> {
  const child = await deviceWorkerProcess(env.connection.options.address, join(home, 'artifacts'));
  child.stderr!.on('data', (d) => (log += d));
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
  // the worker process starts (seconds of loading) while the CPU worker prepares the world
  const starting = deviceProcess();
  const handle = await env.client.workflow.start<typeof pipeline>('pipeline', {
    taskQueue: TASK_QUEUE,
    workflowId: 'pipeline-killed',
    // SFT long enough (about sixty steps) to be caught training; the dead worker's SFT noticed in 8 s
    args: [{ recipe: 'test', arms: ['vanilla', 'oracle'], sft: { epochs: 15, heartbeatTimeout: '8 seconds' } }],
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
  const first = await starting;
  const before = manifests(join(home, 'artifacts'));
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.ok(before.size > 0);

  await deviceProcess();
  const out = await handle.result();
  assert.deepEqual(
    out.arms.map((a) => a.arm),
    ['vanilla', 'oracle'],
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
  // the pipeline's sft.heartbeatTimeout is how the activity is watched, not part of its (keyed) input
  const [train] = (sftHistory.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes ?? []);
  assert.equal(Number(train.heartbeatTimeout?.seconds), 8);
  assert.ok(!('heartbeatTimeout' in JSON.parse(Buffer.from(train.input!.payloads![0].data!).toString('utf8'))));
  const attempts = (sftHistory.events ?? []).flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
  assert.ok(
    attempts.some((a) => a >= 2),
    `${victim}: attempts ${attempts}`,
  );
});
