import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { type TensorData } from '../../engine/graph';
import * as op from '../../engine/ops';
import { serializeModel } from '../../engine/onnx';
import { adamwReference } from '../../engine/optim';
import {
  type TrainStepSpec,
  compileGradients,
  compileTrainStep,
  initialOptimizerState,
  names,
} from '../../engine/program';
import { Runner } from '../../engine/runner';
import { f32, maxAbsDiff, mlpBatch, patternBatch, rng, stack } from './helpers/data';
import { tinyLMInit, tinyLMTrainSpec, type TinyLMConfig } from './helpers/tiny-lm';

const runner = new Runner({ intraOpThreads: 2 });
after(() => runner.close());

const ADAM = { kind: 'adamw' as const, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

function mlpSpec(): TrainStepSpec {
  return {
    params: [
      { name: 'w1', shape: [4, 16] },
      { name: 'b1', shape: [16], decay: false },
      { name: 'w2', shape: [16, 1] },
      { name: 'b2', shape: [1], decay: false },
    ],
    batch: [
      { name: 'x', dtype: 'float32', shape: [8, 4] },
      { name: 'y', dtype: 'float32', shape: [8, 1] },
    ],
    loss: ({ params: p, batch: b }) => {
      const h = op.tanh(op.add(op.matmul(b.x, p.w1), p.b1));
      const d = op.sub(op.add(op.matmul(h, p.w2), p.b2), b.y);
      return op.reduceMean(op.mul(d, d));
    },
    optimizer: ADAM,
  };
}

function mlpInit(): Record<string, TensorData> {
  const r = rng(7);
  const u = (n: number, s: number) => Array.from({ length: n }, () => (2 * r() - 1) * s);
  return { w1: f32([4, 16], u(64, 0.5)), b1: f32([16], u(16, 0.1)), w2: f32([16, 1], u(16, 0.25)), b2: f32([1], [0]) };
}

const ATT: TinyLMConfig = { vocab: 11, width: 16, heads: 2, layers: 2, hidden: 24, maxSeq: 9 };
function attSpec(): TrainStepSpec {
  // clipping exercised: the gradient norm of this model starts well above 0.5
  return tinyLMTrainSpec(ATT, 4, 9, { optimizer: ADAM, clipNorm: 0.5 });
}

const paramState = (spec: TrainStepSpec, init: Record<string, TensorData>) =>
  Object.fromEntries(spec.params.map((p) => [names.param(p.name), init[p.name]]));

/** Trains `steps` steps, `perRun` micro-steps per run; returns final params and the losses. */
async function trainCompiled(
  program: string,
  spec: TrainStepSpec,
  init: Record<string, TensorData>,
  batches: Record<string, TensorData>[],
  perRun: number,
  lr: number,
) {
  await runner.dropState();
  await runner.setState({ ...paramState(spec, init), ...initialOptimizerState(spec) });
  const losses: number[] = [];
  for (let s = 0; s < batches.length; s += perRun) {
    const chunk = batches.slice(s, s + perRun);
    const feeds: Record<string, TensorData> = { lr: f32([], [lr]) };
    for (const b of spec.batch) feeds[names.batch(b.name)] = stack(chunk.map((c) => c[b.name]));
    const r = await runner.run(program, feeds);
    losses.push(...(r.outputs.losses.data as Float32Array));
  }
  const st = await runner.getState(spec.params.map((p) => names.param(p.name)));
  return {
    params: Object.fromEntries(spec.params.map((p) => [p.name, st[names.param(p.name)].data as Float32Array])),
    losses,
  };
}

/** The reference: compiled gradients, AdamW in TypeScript (float64 moments and parameters). */
async function trainReference(
  program: string,
  spec: TrainStepSpec,
  init: Record<string, TensorData>,
  batches: Record<string, TensorData>[],
  lr: number,
) {
  const p: Record<string, Float64Array> = {};
  const m: Record<string, Float64Array> = {};
  const v: Record<string, Float64Array> = {};
  for (const s of spec.params) {
    p[s.name] = Float64Array.from(init[s.name].data as Float32Array);
    m[s.name] = new Float64Array(p[s.name].length);
    v[s.name] = new Float64Array(p[s.name].length);
  }
  for (let t = 1; t <= batches.length; t++) {
    const feeds: Record<string, TensorData> = {};
    for (const s of spec.params) feeds[names.param(s.name)] = f32(s.shape, p[s.name]);
    for (const b of spec.batch) feeds[names.batch(b.name)] = batches[t - 1][b.name];
    const r = await runner.run(program, feeds);
    let sq = 0;
    for (const s of spec.params) for (const x of r.outputs[names.grad(s.name)].data as Float32Array) sq += x * x;
    const scale = spec.clipNorm === undefined ? 1 : Math.min(1, spec.clipNorm / (Math.sqrt(sq) + 1e-6));
    if (spec.clipNorm !== undefined) clipScales.push(scale);
    for (const s of spec.params) {
      const g = r.outputs[names.grad(s.name)].data as Float32Array;
      adamwReference(p[s.name], g, m[s.name], v[s.name], t, lr, ADAM, s.decay ?? true, scale);
    }
  }
  return p;
}

const figures: string[] = [];
const clipScales: number[] = [];
after(() => figures.forEach((f) => console.log(`# ${f}`)));

for (const [label, spec, init, mkBatches, lr] of [
  ['MLP', mlpSpec(), mlpInit(), () => Array.from({ length: 10 }, (_, i) => mlpBatch(100 + i)), 1e-2],
  [
    '2-layer attention model',
    attSpec(),
    tinyLMInit(ATT, 3),
    () => Array.from({ length: 10 }, (_, i) => patternBatch(200 + i, 4, 9, ATT.vocab)),
    3e-3,
  ],
] as const) {
  test(`${label}: 10 compiled AdamW steps match TypeScript AdamW on compiled gradients; K-step Loop = K runs = K Loop-free runs`, async () => {
    const prog = `train-${label}`;
    const gradProg = `grads-${label}`;
    await runner.load(prog, serializeModel(compileTrainStep(spec).graph));
    await runner.load(`${prog}-1`, serializeModel(compileTrainStep({ ...spec, singleStep: true }).graph));
    await runner.load(gradProg, serializeModel(compileGradients(spec).graph));
    const batches = mkBatches() as Record<string, TensorData>[];
    const single = await trainCompiled(prog, spec, init, batches, 1, lr);
    const looped = await trainCompiled(prog, spec, init, batches, 10, lr);
    const ref = await trainReference(gradProg, spec, init, batches, lr);
    // the Loop-free program runs the same ops: the same numbers
    const loopFree = await trainCompiled(`${prog}-1`, spec, init, batches, 1, lr);
    assert.deepEqual(loopFree, single);
    let worstRef = 0;
    let worstLoop = 0;
    for (const s of spec.params) {
      worstRef = Math.max(worstRef, maxAbsDiff(single.params[s.name], ref[s.name]));
      worstLoop = Math.max(worstLoop, maxAbsDiff(single.params[s.name], looped.params[s.name]));
    }
    let moved = 0;
    for (const s of spec.params)
      moved = Math.max(moved, maxAbsDiff(single.params[s.name], init[s.name].data as Float32Array));
    figures.push(
      `${label}: max |compiled AdamW - TS AdamW| = ${worstRef.toExponential(2)} (params moved up to ${moved.toFixed(3)}); ` +
        `max |10-step Loop - 10 single runs| = ${worstLoop.toExponential(2)}`,
    );
    if (spec.clipNorm !== undefined) assert.ok(Math.min(...clipScales) < 1, 'clipping was active');
    assert.ok(worstRef <= 1e-5, `compiled vs reference AdamW differ by ${worstRef}`);
    assert.ok(worstLoop <= 1e-6, `Loop vs single steps differ by ${worstLoop}`);
    assert.deepEqual(
      single.losses,
      looped.losses.map((x) => x),
    );
    assert.ok(moved > 1e-3);
  });
}

test('the loss falls on learnable toy tasks (MLP regression; attention must copy a period-3 pattern)', async () => {
  const mlp = mlpSpec();
  await runner.load('mlp-fall', serializeModel(compileTrainStep(mlp).graph));
  const mb = Array.from({ length: 300 }, (_, i) => mlpBatch(1000 + i));
  const m = await trainCompiled('mlp-fall', mlp, mlpInit(), mb, 100, 1e-2);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [m0, m1] = [mean(m.losses.slice(0, 10)), mean(m.losses.slice(-10))];
  const att = attSpec();
  await runner.load('att-fall', serializeModel(compileTrainStep(att).graph));
  const ab = Array.from({ length: 120 }, (_, i) => patternBatch(5000 + i, 4, 9, ATT.vocab));
  const a = await trainCompiled('att-fall', att, tinyLMInit(ATT, 3), ab, 40, 1e-2);
  const [a0, a1] = [mean(a.losses.slice(0, 5)), mean(a.losses.slice(-10))];
  figures.push(
    `loss falls: MLP ${m0.toFixed(3)} -> ${m1.toFixed(3)} (300 steps); attention ${a0.toFixed(3)} -> ${a1.toFixed(3)} (120 steps)`,
  );
  assert.ok(m1 < 0.2 * m0, `MLP loss ${m0} -> ${m1}`);
  assert.ok(a1 < 0.5 * a0, `attention loss ${a0} -> ${a1}`);
});

test('compiled SGD equals p - lr g on the compiled gradients', async () => {
  const spec: TrainStepSpec = { ...mlpSpec(), optimizer: { kind: 'sgd' } };
  await runner.load('sgd', serializeModel(compileTrainStep(spec).graph));
  await runner.load('sgd-grads', serializeModel(compileGradients(spec).graph));
  const init = mlpInit();
  const batches = Array.from({ length: 3 }, (_, i) => mlpBatch(300 + i)) as Record<string, TensorData>[];
  const compiled = await trainCompiled('sgd', spec, init, batches, 3, 0.1);
  const p: Record<string, Float32Array> = {};
  for (const s of spec.params) p[s.name] = Float32Array.from(init[s.name].data as Float32Array);
  for (const b of batches) {
    const feeds: Record<string, TensorData> = {};
    for (const s of spec.params) feeds[names.param(s.name)] = f32(s.shape, p[s.name]);
    for (const s of spec.batch) feeds[names.batch(s.name)] = b[s.name];
    const r = await runner.run('sgd-grads', feeds);
    for (const s of spec.params) {
      const g = r.outputs[names.grad(s.name)].data as Float32Array;
      for (let i = 0; i < g.length; i++) p[s.name][i] = Math.fround(p[s.name][i] - Math.fround(0.1 * g[i]));
    }
  }
  for (const s of spec.params) assert.ok(maxAbsDiff(compiled.params[s.name], p[s.name]) <= 1e-6, s.name);
});

test('frozen weights are initializers read from inside the Loop; only the adapter trains', async () => {
  const r = rng(21);
  const frozenW = f32(
    [4, 16],
    Array.from({ length: 64 }, () => 2 * r() - 1),
  );
  const spec: TrainStepSpec = {
    params: [
      { name: 'a', shape: [4, 2] },
      { name: 'b', shape: [2, 1] },
      { name: 'head', shape: [16, 1] },
    ],
    frozen: { w: frozenW },
    batch: mlpSpec().batch,
    loss: ({ params: p, batch: b, frozen }) => {
      const h = op.tanh(op.matmul(b.x, frozen.w));
      const d = op.sub(op.add(op.matmul(h, p.head), op.matmul(op.matmul(b.x, p.a), p.b)), b.y);
      return op.reduceMean(op.mul(d, d));
    },
    optimizer: ADAM,
  };
  const program = compileTrainStep(spec);
  assert.ok(!program.inputs.includes('w'), 'frozen weight is not an input');
  assert.ok(program.graph.initializers.has('w'));
  await runner.load('adapter', serializeModel(program.graph));
  const init = {
    a: f32(
      [4, 2],
      Array.from({ length: 8 }, () => 0.1 * (2 * r() - 1)),
    ),
    b: f32([2, 1], [0, 0]),
    head: f32([16, 1], new Array<number>(16).fill(0)),
  };
  const batches = Array.from({ length: 200 }, (_, i) => mlpBatch(7000 + i)) as Record<string, TensorData>[];
  const res = await trainCompiled('adapter', spec, init, batches, 100, 1e-2);
  const first = res.losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = res.losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(last < 0.5 * first, `adapter loss ${first} -> ${last}`);
  assert.ok(maxAbsDiff(res.params.b, [0, 0]) > 1e-3, 'B moved from zero (gradient reached through A B)');

  // The same with the frozen weight as an input held in the runner's state: identical results.
  const { frozen: _f, ...rest } = spec;
  const viaInput: TrainStepSpec = { ...rest, frozenInputs: [{ name: 'w', dtype: 'float32', shape: [4, 16] }] };
  const p2 = compileTrainStep(viaInput);
  assert.ok(p2.inputs.includes('w') && !p2.state.includes('w'));
  await runner.load('adapter-input', serializeModel(p2.graph));
  const batchesAgain = batches.slice(0, 100);
  const once = await trainCompiled('adapter', spec, init, batchesAgain, 100, 1e-2);
  const res2 = await (async () => {
    await runner.dropState();
    await runner.setState({ w: frozenW, ...paramState(viaInput, init), ...initialOptimizerState(viaInput) });
    const feeds: Record<string, TensorData> = { lr: f32([], [1e-2]) };
    for (const b of viaInput.batch) feeds[names.batch(b.name)] = stack(batchesAgain.map((c) => c[b.name]));
    await runner.run('adapter-input', feeds);
    return runner.getState(viaInput.params.map((x) => names.param(x.name)));
  })();
  for (const s of spec.params) assert.deepEqual(res2[names.param(s.name)].data, once.params[s.name], s.name);
});

test('symbolic batch size: one compiled step serves micro-batches of any size', async () => {
  const base = mlpSpec();
  const spec: TrainStepSpec = {
    ...base,
    batch: [
      { name: 'x', dtype: 'float32', shape: ['batch', 4] },
      { name: 'y', dtype: 'float32', shape: ['batch', 1] },
    ],
  };
  const program = compileTrainStep(spec);
  assert.deepEqual(program.graph.inputs.find((t) => t.name === 'batch.x')?.shape, ['micro_batches', 'batch', 4]);
  await runner.load('sym', serializeModel(program.graph));
  await runner.load('static', serializeModel(compileTrainStep(base).graph));
  for (const b of [3, 8]) {
    const batches = Array.from({ length: 2 }, (_, i) => mlpBatch(400 + i, b)) as Record<string, TensorData>[];
    const sym = await trainCompiled('sym', spec, mlpInit(), batches, 2, 1e-2);
    assert.equal(sym.losses.length, 2);
    if (b === 8) {
      const st = await trainCompiled('static', base, mlpInit(), batches, 2, 1e-2);
      for (const s of spec.params) assert.ok(maxAbsDiff(sym.params[s.name], st.params[s.name]) <= 1e-6);
    }
  }
});

test('gradient accumulation: mean over micro-batches equals one step on their concatenation', async () => {
  const base = mlpSpec();
  const big: TrainStepSpec = {
    ...base,
    batch: [
      { name: 'x', dtype: 'float32', shape: [24, 4] },
      { name: 'y', dtype: 'float32', shape: [24, 1] },
    ],
  };
  const acc: TrainStepSpec = { ...base, accumulate: true };
  assert.deepEqual(compileTrainStep(acc).graph.inputs.find((t) => t.name === 'batch.x')?.shape, [
    'steps',
    'micro_batches',
    8,
    4,
  ]);
  await runner.load('acc', serializeModel(compileTrainStep(acc).graph));
  await runner.load('big', serializeModel(compileTrainStep(big).graph));
  // 2 optimizer steps, each on 3 micro-batches of 8.
  const micro = Array.from({ length: 6 }, (_, i) => mlpBatch(600 + i)) as Record<string, TensorData>[];
  const cat = (ts: TensorData[]) => {
    const s = stack(ts);
    return { ...s, shape: [s.shape[0] * s.shape[1], ...s.shape.slice(2)] };
  };
  const steps = [micro.slice(0, 3), micro.slice(3)];
  const bigBatches = steps.map((ms) => ({ x: cat(ms.map((m) => m.x)), y: cat(ms.map((m) => m.y)) }));
  const a = await trainCompiled('big', big, mlpInit(), bigBatches, 2, 1e-2);

  await runner.dropState();
  await runner.setState({ ...paramState(acc, mlpInit()), ...initialOptimizerState(acc) });
  const r = await runner.run('acc', {
    lr: f32([], [1e-2]),
    'batch.x': stack(steps.map((ms) => stack(ms.map((m) => m.x)))),
    'batch.y': stack(steps.map((ms) => stack(ms.map((m) => m.y)))),
  });
  const st = await runner.getState();
  for (const s of acc.params)
    assert.ok(maxAbsDiff(st[names.param(s.name)].data as Float32Array, a.params[s.name]) <= 1e-6, s.name);
  assert.ok(maxAbsDiff(r.outputs.losses.data as Float32Array, a.losses) <= 1e-6);
  assert.equal((st.step.data as BigInt64Array)[0], 2n);
});

test('a learning rate per step (schedules) equals runs with those rates one at a time', async () => {
  const sched: TrainStepSpec = { ...mlpSpec(), lrPerStep: true };
  await runner.load('sched', serializeModel(compileTrainStep(sched).graph));
  await runner.load('plain', serializeModel(compileTrainStep(mlpSpec()).graph));
  const batches = Array.from({ length: 3 }, (_, i) => mlpBatch(800 + i)) as Record<string, TensorData>[];
  const lrs = [1e-3, 5e-3, 2e-2];
  await runner.dropState();
  await runner.setState({ ...paramState(sched, mlpInit()), ...initialOptimizerState(sched) });
  await runner.run('plain', {
    lr: f32([], [lrs[0]]),
    'batch.x': stack([batches[0].x]),
    'batch.y': stack([batches[0].y]),
  });
  await runner.run('plain', {
    lr: f32([], [lrs[1]]),
    'batch.x': stack([batches[1].x]),
    'batch.y': stack([batches[1].y]),
  });
  await runner.run('plain', {
    lr: f32([], [lrs[2]]),
    'batch.x': stack([batches[2].x]),
    'batch.y': stack([batches[2].y]),
  });
  const one = await runner.getState();
  await runner.dropState();
  await runner.setState({ ...paramState(sched, mlpInit()), ...initialOptimizerState(sched) });
  await runner.run('sched', {
    lr: f32([3], lrs),
    'batch.x': stack(batches.map((b) => b.x)),
    'batch.y': stack(batches.map((b) => b.y)),
  });
  const all = await runner.getState();
  for (const k of Object.keys(one)) assert.deepEqual(all[k].data, one[k].data, k);
});
