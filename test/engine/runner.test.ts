import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../../engine/graph';
import * as op from '../../engine/ops';
import { saveModel, serializeModel } from '../../engine/onnx';
import { Runner, executionProviders } from '../../engine/runner';
import { f32 } from './helpers/data';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

/** A program that repeats x <- tanh(x W) `n` times in an ONNX Loop (n is an input). */
function spinProgram(width: number): Uint8Array {
  const g = new Graph();
  const n = g.input('n', 'int64', []);
  const x0 = g.input('x', 'float32', [width, width]);
  const w = g.input('w', 'float32', [width, width]);
  const { carried } = op.loop(g, {
    tripCount: n,
    carried: [x0],
    body: ({ carried: [x] }) => ({ carried: [op.tanh(op.matmul(x, w))] }),
  });
  g.output('checksum', op.reduceSum(carried[0]));
  return serializeModel(g);
}

test('a 30-second program runs off the event loop: a 50 ms timer is never more than 100 ms late', async () => {
  const width = 512;
  await runner.load('spin', spinProgram(width));
  const w = f32(
    [width, width],
    Array.from({ length: width * width }, (_, i) => Math.sin(i) / Math.sqrt(width)),
  );
  const x = f32(
    [width, width],
    Array.from({ length: width * width }, (_, i) => Math.cos(i)),
  );
  const n = (k: number) => ({ dtype: 'int64' as const, shape: [], data: BigInt64Array.from([BigInt(k)]) });
  await runner.run('spin', { n: n(20), x, w }); // warm-up
  const probe = await runner.run('spin', { n: n(300), x, w });
  let iters = Math.round((30_000 / probe.runMs) * 300);

  // A blocked event loop would be ~30 s late on every attempt. On a machine shared with other busy
  // processes a rare scheduling spike can still delay one tick past 100 ms, so one retry is allowed;
  // a run that came out shorter than 20 s (the probe ran under heavier load) is redone longer.
  const attempts: number[] = [];
  for (let k = 0; k < 4 && attempts.length < 2; k++) {
    let last = performance.now();
    let worst = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 50);
      last = now;
      ticks++;
    }, 50);
    const t0 = performance.now();
    const r = await runner.run('spin', { n: n(iters), x, w });
    const wall = performance.now() - t0;
    clearInterval(timer);
    console.log(
      `# 30 s program: ${iters} iterations, run ${(r.runMs / 1000).toFixed(1)} s, ${ticks} timer ticks, worst lateness ${worst.toFixed(1)} ms (load average ${loadavg()[0].toFixed(1)})`,
    );
    assert.ok(Number.isFinite((r.outputs.checksum.data as Float32Array)[0]));
    assert.ok(ticks >= (wall / 50) * 0.9, `only ${ticks} ticks in ${wall} ms`);
    if (r.runMs < 20_000) {
      iters = Math.round((iters * 30_000) / r.runMs);
      continue;
    }
    attempts.push(worst);
    if (worst <= 100) break;
  }
  assert.ok(attempts.length > 0, 'no run lasted 20 s');
  assert.ok(
    attempts[attempts.length - 1] <= 100,
    `timer fired ${attempts.map((a) => a.toFixed(0)).join(' and ')} ms late`,
  );
});

test('runner: state in, new.* state out, missing inputs and unknown feeds are clear errors', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2]);
  const s = g.input('acc', 'float32', [2]);
  g.output('new.acc', op.add(s, x));
  g.output('y', op.mul(x, 2));
  assert.equal(runner.isLoaded('acc'), false);
  await runner.load('acc', serializeModel(g));
  assert.equal(runner.isLoaded('acc'), true);
  await runner.dropState();
  await assert.rejects(runner.run('acc', { x: f32([2], [1, 2]) }), /input 'acc' was neither fed nor held as state/);
  await runner.setState({ acc: f32([2], [0, 0]) });
  for (let i = 0; i < 3; i++) {
    const r = await runner.run('acc', { x: f32([2], [1, 2]) });
    assert.deepEqual(Object.keys(r.outputs), ['y']);
    assert.ok(r.outputs.y.data.buffer instanceof ArrayBuffer);
  }
  assert.deepEqual([...((await runner.getState(['acc'])).acc.data as Float32Array)], [3, 6]);
  const fetched = await runner.run('acc', { x: f32([2], [1, 1]) }, { fetch: ['new.acc'] });
  assert.deepEqual([...(fetched.outputs['new.acc'].data as Float32Array)], [4, 7]);
  await assert.rejects(runner.run('acc', { x: f32([2], [1, 2]), bogus: f32([1], [0]) }), /has no input 'bogus'/);
  await assert.rejects(runner.run('nope', {}), /program 'nope' is not loaded/);
  const feed = f32([2], [1, 1]);
  await runner.run('acc', { x: feed }, { transferFeeds: true });
  assert.equal(feed.data.byteLength, 0, 'transferred feed is detached');
});

test('runner: cuda devices fail clearly when the CUDA provider is not installed', () => {
  assert.throws(() => executionProviders('cuda:1'), /CUDA execution provider of onnxruntime-node is not installed/);
  assert.throws(() => new Runner({ device: 'cuda:0' }), /not installed/);
  assert.throws(() => executionProviders('tpu'), /expected 'cpu' or 'cuda:N'/);
  assert.deepEqual(executionProviders('cpu'), ['cpu']);
});

test('external data: a model whose initializers pass the threshold is saved beside a .data file and runs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ext-'));
  try {
    const g = new Graph();
    const x = g.input('x', 'float32', [1, 64]);
    const w = g.initializer(
      'w',
      f32(
        [64, 64],
        Array.from({ length: 4096 }, (_, i) => (i % 7) - 3),
      ),
    );
    const b = g.initializer(
      'b',
      f32(
        [64],
        Array.from({ length: 64 }, (_, i) => i),
      ),
    );
    g.output('y', op.add(op.matmul(x, w), b));
    const path = join(dir, 'm.onnx');
    const saved = await saveModel(g, path, { externalDataThreshold: 1000, externalMinBytes: 1024 });
    assert.ok(saved.dataPath);
    assert.ok((await stat(path)).size < 2000, 'weights left the protobuf');
    assert.equal((await stat(saved.dataPath)).size, 4096 * 4);
    await runner.load('ext', path);
    const r = await runner.run('ext', { x: f32([1, 64], new Array<number>(64).fill(1)) });
    // loadGraph picks external data on its own past the threshold, and gives the same answer.
    await runner.loadGraph('ext2', g, { dir, externalDataThreshold: 1000 });
    assert.ok((await stat(join(dir, 'ext2.onnx.data'))).size > 0);
    const r2 = await runner.run('ext2', { x: f32([1, 64], new Array<number>(64).fill(1)) });
    assert.deepEqual(r2.outputs.y.data, r.outputs.y.data);
    const y = r.outputs.y.data as Float32Array;
    let col0 = 0;
    for (let i = 0; i < 64; i++) col0 += ((i * 64) % 7) - 3;
    assert.equal(y[0], col0);
    assert.equal(
      y[5] - y[4],
      (() => {
        let a = 0;
        for (let i = 0; i < 64; i++) a += ((i * 64 + 5) % 7) - ((i * 64 + 4) % 7);
        return a + 1;
      })(),
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("isolation 'process': same results; kill() abandons a long run at once; close() waits for it in a thread", async () => {
  const width = 256;
  const proc = new Runner({ intraOpThreads: 1, isolation: 'process' });
  const x = f32(
    [width, width],
    Array.from({ length: width * width }, (_, i) => Math.cos(i)),
  );
  const w = f32(
    [width, width],
    Array.from({ length: width * width }, (_, i) => Math.sin(i) / Math.sqrt(width)),
  );
  const n = (k: number) => ({ dtype: 'int64' as const, shape: [], data: BigInt64Array.from([BigInt(k)]) });
  await proc.load('spin', spinProgram(width));
  await runner.load('spin256', spinProgram(width));
  const a = await proc.run('spin', { n: n(3), x, w });
  const b = await runner.run('spin256', { n: n(3), x, w });
  assert.deepEqual(a.outputs.checksum.data, b.outputs.checksum.data);
  const long = proc.run('spin', { n: n(1_000_000), x, w });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await proc.kill();
  await assert.rejects(long, /process exited \(SIGKILL\)/);
  assert.ok(performance.now() - t0 < 2000);
  await assert.rejects(proc.run('spin', { n: n(1), x, w }), /exited|closed/);
  await assert.rejects(runner.kill(), /cannot be killed mid-run/);
  // A worker thread closes gracefully: the run in progress completes first.
  const t = new Runner({ intraOpThreads: 1 });
  await t.load('spin', spinProgram(width));
  const inFlight = t.run('spin', { n: n(200), x, w });
  await new Promise((r) => setTimeout(r, 20));
  await t.close();
  assert.ok(Number.isFinite(((await inFlight).outputs.checksum.data as Float32Array)[0]));
});

test('a float64 program that full optimization would fuse into a float32-only kernel fails with a hint', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [4]);
  g.output('y', op.mul(x, op.sigmoid(x)));
  const bytes = serializeModel(g);
  await assert.rejects(runner.load('silu64', bytes), /load it with graphOptimization: 'basic'/);
  await runner.load('silu64', bytes, { graphOptimization: 'basic' });
  const r = await runner.run('silu64', { x: { dtype: 'float64', shape: [4], data: Float64Array.from([0, 1, -1, 2]) } });
  assert.ok(Math.abs((r.outputs.y.data as Float64Array)[1] - 1 / (1 + Math.exp(-1))) < 1e-15);
});
