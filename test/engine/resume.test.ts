import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TensorData } from '../../engine/graph';
import { serializeModel } from '../../engine/onnx';
import { type TrainStepSpec, compileTrainStep, initialOptimizerState, names } from '../../engine/program';
import { Rng } from '../../engine/rng';
import { Runner } from '../../engine/runner';
import { loadTrainerState, saveTrainerState } from '../../engine/trainer-state';
import { LengthGroupedBatches } from '../../training/batches';
import { f32, i64, patternBatch, stack } from './helpers/data';
import { tinyLMInit, tinyLMTrainSpec, type TinyLMConfig } from './helpers/tiny-lm';

const CFG: TinyLMConfig = { vocab: 11, width: 16, heads: 2, layers: 2, hidden: 24, maxSeq: 9 };
const spec: TrainStepSpec = tinyLMTrainSpec(CFG, 4, 9, {
  optimizer: { kind: 'adamw', weightDecay: 0.01 },
  clipNorm: 1,
});
const model = serializeModel(compileTrainStep(spec).graph);
const dataset = Array.from({ length: 36 }, (_, i) => patternBatch(900 + i, 1, 9, CFG.vocab).tokens);
const RUNNER = { intraOpThreads: 2 };
const PER_RUN = 2;

/** The seeded data order: batches of 4, reshuffled each epoch; its position is what a checkpoint saves. */
const dataOrder = () =>
  new LengthGroupedBatches(
    dataset.map(() => 9),
    4,
    11,
    1,
  );

/** One run of PER_RUN steps: examples from the data order, a random token mask from the RNG. */
async function runSteps(r: Runner, order: LengthGroupedBatches, rng: Rng): Promise<void> {
  const tokens: TensorData[] = [];
  const masks: TensorData[] = [];
  for (let k = 0; k < PER_RUN; k++) {
    const idx = order.next();
    const rows = idx.flatMap((i) => Array.from(dataset[i].data as BigInt64Array, Number));
    tokens.push(i64([4, 9], rows));
    masks.push(
      f32(
        [4, 9],
        Array.from({ length: 36 }, () => (rng.float() < 0.8 ? 1 : 0)),
      ),
    );
  }
  await r.run('train', { lr: f32([], [5e-3]), 'batch.tokens': stack(tokens), 'batch.mask': stack(masks) });
}

async function fresh(isolation: 'thread' | 'process' = 'thread'): Promise<Runner> {
  const r = new Runner({ ...RUNNER, isolation });
  await r.load('train', model);
  return r;
}

test('resume: 20 steps straight equal 10 steps + save + kill + reload in a new runner + 10 steps, bit for bit', async () => {
  const init = tinyLMInit(CFG, 5);
  const start = {
    ...Object.fromEntries(spec.params.map((p) => [names.param(p.name), init[p.name]])),
    ...initialOptimizerState(spec),
  };

  const a = await fresh();
  await a.setState(start);
  const orderA = dataOrder();
  const rngA = new Rng(12);
  for (let s = 0; s < 20; s += PER_RUN) await runSteps(a, orderA, rngA);
  const straight = await a.getState();
  await a.close();

  const dir = await mkdtemp(join(tmpdir(), 'resume-'));
  try {
    const b = await fresh('process');
    await b.setState(start);
    const orderB = dataOrder();
    const rngB = new Rng(12);
    for (let s = 0; s < 10; s += PER_RUN) await runSteps(b, orderB, rngB);
    const ckpt = join(dir, 'state.safetensors');
    await saveTrainerState(ckpt, { tensors: await b.getState(), dataPosition: orderB.position, rng: rngB.state() });
    // The training process dies in the middle of its next run.
    const dying = runSteps(b, orderB, rngB);
    await new Promise((r) => setImmediate(r)); // the run request is on its way
    await b.kill();
    await assert.rejects(dying, /SIGKILL/);

    const saved = await loadTrainerState(ckpt);
    const c = await fresh();
    await c.setState(saved.tensors);
    const orderC = dataOrder();
    orderC.position = saved.dataPosition;
    const rngC = Rng.fromState(saved.rng);
    for (let s = 0; s < 10; s += PER_RUN) await runSteps(c, orderC, rngC);
    const resumed = await c.getState();
    await c.close();

    assert.deepEqual(Object.keys(resumed).sort(), Object.keys(straight).sort());
    assert.equal((resumed.step.data as BigInt64Array)[0], 20n);
    for (const k of Object.keys(straight)) {
      const x = new Uint8Array(straight[k].data.buffer, straight[k].data.byteOffset, straight[k].data.byteLength);
      const y = new Uint8Array(resumed[k].data.buffer, resumed[k].data.byteOffset, resumed[k].data.byteLength);
      assert.ok(Buffer.compare(x, y) === 0, `state ${k} differs after resume`);
    }
    // Sanity: training moved the parameters.
    assert.notDeepEqual(straight[names.param('head')].data, init.head.data);
  } finally {
    await rm(dir, { recursive: true });
  }
});
