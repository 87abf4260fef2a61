// The rewrite-rl command, run as a user runs it, against a real dev server and a real worker.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../workers/settings';
import { jsonl, mathRecord } from './helpers/data';
import { freePort } from './helpers/ports';
import { cpuWorker, deviceWorker, startTestServer, tempDir } from './helpers/temporal';

let env: TestWorkflowEnvironment;
let workers: Worker[];
let running: Promise<void>[];
let home: string;
let files: string;

before(async () => {
  env = await startTestServer();
  home = await tempDir();
  files = await tempDir();
  workers = [await cpuWorker(env, join(home, 'artifacts')), await deviceWorker(env, join(home, 'artifacts'))];
  running = workers.map((w) => w.run());
});

after(async () => {
  for (const w of workers) w.shutdown();
  await Promise.all(running);
  await env.teardown();
});

function cli(
  args: string[],
  extraEnv: Record<string, string> = {},
  onStderr?: (text: string, child: ChildProcess) => void,
): Promise<{ code: number; stdout: string; stderr: string; signal: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'rewrite-rl.js'), ...args], {
      env: { ...process.env, REWRITE_RL_HOME: home, TEMPORAL_ADDRESS: env.connection.options.address, ...extraEnv },
      timeout: 120_000, // a hung command fails the test instead of hanging the run
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? -1, stdout, stderr, signal }));
  });
}

test('usage errors exit 2; --help exits 0', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:/);
  assert.equal((await cli([])).code, 2);
  const unknown = await cli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.equal((await cli(['run', 'importDataset'])).code, 2);
  assert.equal((await cli(['import', join(files, 'missing.jsonl'), '--no-worker'])).code, 2);
});

test('each command takes only its own flags: an unknown or misplaced flag exits 2 naming it', async () => {
  const stop = await cli(['server', 'stop', '--limit', '3']);
  assert.equal(stop.code, 2);
  assert.match(stop.stderr, /server does not take --limit \(it takes no flags\)/);
  const world = await cli(['world', '--temperatures', '0', '--no-worker']);
  assert.equal(world.code, 2);
  assert.match(world.stderr, /world does not take --temperatures \(its flags: --recipe, --arms/);
  const extra = await cli(['status', 'a', 'b']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /status does not take the argument "b"/);
});

test('run with a workflow that does not exist exits 2 listing the known ones, without waiting', async () => {
  const input = join(files, 'empty-input.json');
  writeFileSync(input, '{}');
  const r = await cli(['run', 'noSuchWorkflow', '--input', input, '--no-worker']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /unknown workflow "noSuchWorkflow": the workflows are .*importDataset.*worldForgetting.*rewriterProbe/,
  );
  assert.doesNotMatch(r.stderr, /started/);
});

test('a bad --map is bad usage found before the file is copied into the store', async () => {
  const file = join(files, 'mapless.jsonl');
  writeFileSync(file, jsonl([mathRecord(7001)]));
  const r = await cli(['import', file, '--map', 'question', '--no-worker']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--map expects target=source pairs like question=problem,answer=solution; got "question"/);
  const inputs = join(home, 'artifacts', 'inputs');
  const staged = existsSync(inputs) ? readdirSync(inputs, { recursive: true, encoding: 'utf8' }) : [];
  assert.deepEqual(
    staged.filter((f) => f.endsWith('mapless.jsonl')),
    [],
  );
});

test('no reachable server exits 3', async () => {
  const closed = String(await freePort());
  const status = await cli(['status', 'anything'], { TEMPORAL_ADDRESS: `127.0.0.1:${closed}` });
  assert.equal(status.code, 3);
  assert.match(status.stderr, /cannot reach a Temporal server at 127\.0\.0\.1:\d+/);
  const server = await cli(['server', 'status'], { TEMPORAL_ADDRESS: '', REWRITE_RL_SERVER_PORT: closed });
  assert.equal(server.code, 3);
});

test('import: 0 on success with the result on stdout, 2 naming bad records, 2 on invalid input', async () => {
  const good = join(files, 'good.jsonl');
  writeFileSync(good, jsonl(Array.from({ length: 30 }, (_, i) => mathRecord(i))));
  // the same import twice: once for scripts (--json), once for a person
  const importGood = (...extra: string[]) =>
    cli(['import', good, '--map', 'question=problem,answer=solution', '--test-size', '5', '--no-worker', ...extra]);
  const ok = await importGood('--id', 'cli-import', '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const result = JSON.parse(ok.stdout);
  assert.deepEqual([result.counts.train, result.counts.test], [25, 5]);
  assert.match(ok.stderr, /started importDataset as cli-import/);

  const status = await cli(['status', 'cli-import']);
  assert.equal(status.code, 0);
  assert.match(status.stdout, /cli-import: COMPLETED/);
  assert.match(status.stdout, /RewriteRlStage = "done"/);

  const bad = join(files, 'bad.jsonl');
  writeFileSync(bad, jsonl([mathRecord(1), { problem: 'p' }]));
  const failed = await cli(['import', bad, '--map', 'question=problem,answer=solution', '--no-worker']);
  assert.equal(failed.code, 2, 'bad records are bad input');
  assert.match(failed.stderr, /BadRecords/);
  assert.match(failed.stderr, /bad\.jsonl:2: solution: missing field "solution" \(required\)/);

  // a person reads the counts and where the dataset is, not the JSON result
  const again = await importGood();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^imported 30 of 30 records \(0 duplicates, 0 rejected\): 25 train, 5 test/);
  const dataset = /^the dataset: (.+)$/m.exec(again.stdout);
  assert.ok(dataset && existsSync(dataset[1]), again.stdout);
  assert.doesNotMatch(again.stdout, /^\{/m);

  const invalid = await cli(['import', good, '--test-fraction', '2', '--no-worker']);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /\$\.split\.testFraction: must be <= 1 \(maximum\)/);
});

test('world runs worldForgetting: the forgetting tables, the report and plot paths, the UI link', async () => {
  const r = await cli(
    ['world', '--recipe', 'test', '--arms', 'foreign,oracle', '--sft-seed', '1', '--no-worker', '--id', 'cli-demo'],
    { TEMPORAL_UI_URL: 'http://ui.example' },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /started worldForgetting as cli-demo/);
  // a person gets the tables and paths on stdout; a script asks for the result with --json
  assert.doesNotMatch(r.stdout, /^\{/m);
  const status = await cli(['status', 'cli-demo', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const result = JSON.parse(status.stdout);
  assert.deepEqual(Object.keys(result.nll), ['foreign', 'oracle']);
  assert.deepEqual(Object.keys(result.arms), ['foreign', 'oracle']);
  assert.match(r.stdout, /### Forgetting on the general benchmarks, strict extraction/);
  assert.match(r.stdout, /### Dose-response: forgetting against the backbone NLL of the SFT data/);
  assert.match(r.stdout, new RegExp(`\\| foreign \\| ${result.nll.foreign.toFixed(4)} \\|`));
  assert.match(r.stdout, /### Forgetting reduction vs foreign/);
  const plot = /the dose-response plot: (.+)$/m.exec(r.stdout);
  assert.ok(plot && existsSync(plot[1]) && plot[1].startsWith(join(home, 'artifacts')), r.stdout);
  const report = /the report: (.+)$/m.exec(r.stdout);
  assert.ok(report && existsSync(report[1]) && report[1].endsWith('forgetting.md'), r.stdout);
  assert.match(r.stderr, /the run in the Temporal UI: http:\/\/ui\.example\/namespaces\/default\/workflows\/cli-demo/);
  const history = await env.client.workflow.getHandle('cli-demo').fetchHistory();
  const started = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
  assert.deepEqual(JSON.parse(Buffer.from(started.data!).toString('utf8')), {
    recipe: 'test',
    arms: ['foreign', 'oracle'],
    sftSeed: 1,
  });
});

test('demo (npm start) runs the pipeline: a line per stage off a terminal, the result table, the report paths, the UI link', async () => {
  const r = await cli(['demo', '--recipe', 'test', '--arms', 'foreign,oracle', '--no-worker', '--id', 'cli-pipeline'], {
    TEMPORAL_UI_URL: 'http://ui.example',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /started pipeline as cli-pipeline/);
  // not a terminal: a plain line each time a stage starts or ends, with done of total
  assert.match(r.stderr, /^\[\d+\/\d+\] sft:vanilla:s0 (running|done in \d+\.\d s)/m);
  assert.match(r.stderr, /^\[\d+\/\d+\] evaluate:oracle:s0 done in \d+\.\d s/m);
  assert.match(r.stdout, /### Seed 0: the arms' SFT data and accuracies \(fallback original/);
  assert.match(r.stdout, /^\| vanilla \| — \| 32 \| 0 \| \d+ \| \d\.\d{4} \|/m);
  assert.match(r.stdout, /^\| oracle \| /m);
  for (const what of ['the report', 'the report as one HTML page']) {
    const m = new RegExp(`^${what}: (.+)$`, 'm').exec(r.stdout);
    assert.ok(m && existsSync(m[1]) && m[1].startsWith(join(home, 'artifacts')), `${what}: ${r.stdout}`);
  }
  assert.match(
    r.stderr,
    /the run in the Temporal UI: http:\/\/ui\.example\/namespaces\/default\/workflows\/cli-pipeline/,
  );
  // the flags as the workflow's one input object, as the UI shows it
  const { events } = await env.client.workflow.getHandle('cli-pipeline').fetchHistory();
  const [input] = events![0].workflowExecutionStartedEventAttributes!.input!.payloads!;
  assert.deepEqual(JSON.parse(Buffer.from(input.data!).toString('utf8')), {
    recipe: 'test',
    arms: ['foreign', 'oracle'],
  });
  // where its time went: the children (each arm's SFT and evaluation) and the run's own activities
  const costs = await cli(['costs', 'cli-pipeline']);
  assert.equal(costs.code, 0, costs.stderr);
  assert.match(costs.stdout, /^cli-pipeline: \d+\.\d min wall time$/m);
  for (const stage of ['sft-vanilla-s0', 'evaluate-oracle-s0', 'evaluate-base', 'scoreDataset vanilla-s0'])
    assert.match(
      costs.stdout,
      new RegExp(`^\\| ${stage} \\| \\d+ \\| \\d+\\.\\d \\| \\d+\\.\\d \\| rewrite-rl-device-cpu \\|$`, 'm'),
      stage,
    );
  assert.match(costs.stdout, /^\| sft \| 2 \| \d+\.\d \|$/m);
});

test('probe: bad flags exit 2 naming the flag, before anything starts', async () => {
  for (const [args, pattern] of [
    [['--temperatures', 'abc'], /--temperatures expects comma-separated numbers like 0,0\.8; got "abc"/],
    [['--temperatures', '0,,0.8'], /--temperatures expects comma-separated numbers/],
    [['--limit', '2.5'], /--limit expects an integer, got "2\.5"/],
    [['--samples', 'many'], /--samples expects a number, got "many"/],
  ] as const) {
    const r = await cli(['probe', '--recipe', 'test', ...args, '--no-worker']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /started rewriterProbe/);
  }
  const invalid = await cli(['probe', '--recipe', 'test', '--temperatures=-1', '--no-worker']);
  assert.equal(invalid.code, 2, invalid.stderr);
  assert.match(invalid.stderr, /InvalidInput.*\$\.temperatures\[0\]: must be >= 0 \(minimum\)/);
});

test('probe prints the pass rates at each temperature and the UI link', async () => {
  const r = await cli(
    ['probe', '--recipe', 'test', '--limit', '8', '--temperatures', '0,0.8', '--samples', '2', '--no-worker', '--json'],
    { TEMPORAL_UI_URL: 'http://ui.example' },
  );
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.deepEqual(
    result.runs.map((x: { temperature: number; samples: number; records: number }) => [
      x.temperature,
      x.samples,
      x.records,
    ]),
    [
      [0, 1, 8],
      [0.8, 2, 8],
    ],
  );
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const [greedy, sampled] = result.runs;
  assert.match(r.stderr, /### The prompted rewriter at step 0 \(test recipe, foreign training set, 8 records\)/);
  assert.ok(r.stderr.includes(`| greedy | 1 | ${pct(greedy.passRate)} | ${pct(greedy.samplePassRate)} |`), r.stderr);
  assert.ok(r.stderr.includes(`| 0.8 | 2 | ${pct(sampled.passRate)} | ${pct(sampled.samplePassRate)} |`), r.stderr);
  assert.match(r.stderr, /the rewrites at temperature 0\.8: .*rewrites\/probe-foreign-/);
  assert.match(
    r.stderr,
    /the run in the Temporal UI: http:\/\/ui\.example\/namespaces\/default\/workflows\/rewriterProbe-/,
  );
});

test('run starts any workflow with a JSON input file; status says 4 while it runs', async () => {
  const input = join(files, 'input.json');
  writeFileSync(input, JSON.stringify({ source: 'artifact://nowhere.jsonl' }));
  const run = await cli(['run', 'importDataset', '--input', input, '--no-worker', '--id', 'cli-run']);
  assert.equal(run.code, 2, 'a missing source is invalid input');
  assert.match(run.stderr, /nowhere\.jsonl: no such file in the artifact store/);

  await env.client.workflow.start('importDataset', {
    taskQueue: 'nobody-polls-this',
    workflowId: 'cli-pending',
    args: [{ source: 'x.jsonl' }],
  });
  const pending = await cli(['status', 'cli-pending']);
  assert.equal(pending.code, 4);
  assert.match(pending.stdout, /RUNNING/);
});

test('worker processes shut down cleanly on SIGTERM and SIGINT; an unusable device is a clear error', async () => {
  for (const [args, signal] of [
    [['worker', '--device', 'cpu'], 'SIGTERM'],
    [['worker'], 'SIGINT'],
  ] as const) {
    let sent = false;
    const r = await cli([...args], {}, (text, child) => {
      if (!sent && text.includes('workers running')) {
        sent = true;
        child.kill(signal);
      }
    });
    assert.ok(sent, r.stderr);
    assert.equal(r.code, 0, `${args.join(' ')} after ${signal}: ${r.stderr}`);
    assert.match(r.stderr, /shutting down workers/);
    if (args.length > 1) assert.match(r.stderr, /rewrite-rl-device-cpu/);
  }
  const cuda = await cli(['worker', '--device', 'cuda:0']);
  assert.equal(cuda.code, 1);
  assert.match(cuda.stderr, /device cuda:0: onnxruntime-node's CUDA execution provider is not installed/);
});
