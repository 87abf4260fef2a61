import { type DType, type Dim, Graph, Tensor, type TensorData, graphOf } from '../graph';
import * as op from '../ops';
import { grad } from '../autodiff';
import { type AdamWConfig, adamwUpdate, clipScale, sgdUpdate } from '../optim';
import { names } from './names';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Apply weight decay (default true). */
  decay?: boolean;
}

export interface BatchSpec {
  name: string;
  dtype: DType;
  /** Shape of ONE micro-batch; the program input gets a leading micro-batch axis. */
  shape: Dim[];
}

export interface LossContext {
  graph: Graph;
  params: Record<string, Tensor>;
  batch: Record<string, Tensor>;
  frozen: Record<string, Tensor>;
}

export type LossFn = (ctx: LossContext) => Tensor | { loss: Tensor; metrics?: Record<string, Tensor> };

export type OptimizerSpec = ({ kind: 'adamw' } & AdamWConfig) | { kind: 'sgd' };

export interface TrainStepSpec {
  /** Float type of parameters and optimizer state (default float32). */
  dtype?: 'float32' | 'float64';
  params: ParamSpec[];
  /** Frozen weights, stored in the model as initializers. */
  frozen?: Record<string, TensorData>;
  /**
   * Frozen weights declared as plain graph inputs instead (fed from the runner's state, where one
   * copy serves every program on the runner: onnxruntime reads inputs without copying them, while
   * each session keeps its own copy of its initializers).
   */
  frozenInputs?: { name: string; dtype: DType; shape: Dim[] }[];
  batch: BatchSpec[];
  loss: LossFn;
  optimizer: OptimizerSpec;
  /** Global-norm gradient clipping. */
  clipNorm?: number;
  /**
   * Gradient accumulation: batch inputs get two leading axes [steps, micro_batches, ...] and each
   * optimizer step uses the mean gradient (and mean loss/metrics) over its micro-batches, computed
   * in an inner Loop so only one micro-batch's activations are alive at a time.
   */
  accumulate?: boolean;
  /** `lr` is a vector with one learning rate per optimizer step of the run (schedules), not a scalar. */
  lrPerStep?: boolean;
  /**
   * One optimizer step per run, written without the Loop (batch inputs keep their leading axis, of
   * size 1): the same ops, without the Loop's per-run cost of copying the carried parameters and
   * optimizer state in and out (4% of the world's width-128 step).
   */
  singleStep?: boolean;
}

export interface CompiledProgram {
  graph: Graph;
  /** Inputs the caller (or the runner's state) must provide. */
  inputs: string[];
  outputs: string[];
  /** Inputs meant to live in the runner between runs (each has a `new.<name>` output). */
  state: string[];
}

function declareParams(g: Graph, spec: TrainStepSpec, dtype: DType) {
  return spec.params.map((p) => g.input(names.param(p.name), dtype, p.shape));
}

function frozenTensors(g: Graph, spec: TrainStepSpec): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(spec.frozen ?? {})) out[k] = g.initializer(k, v);
  for (const f of spec.frozenInputs ?? []) {
    if (out[f.name]) throw new Error(`train step: frozen weight '${f.name}' given both as initializer and input`);
    out[f.name] = g.input(f.name, f.dtype, f.shape);
  }
  return out;
}

function evalLoss(spec: TrainStepSpec, ctx: LossContext): { loss: Tensor; metrics: Record<string, Tensor> } {
  const r = spec.loss(ctx);
  const out = r instanceof Tensor ? { loss: r, metrics: {} } : { loss: r.loss, metrics: r.metrics ?? {} };
  if (out.loss.rank !== 0) throw new Error(`train step: loss must be a scalar, got ${out.loss}`);
  return out;
}

/**
 * Loss and gradients only (no update): outputs `loss` and `grad.<param>`. Batch inputs have the
 * micro-batch shape (no leading axis).
 */
export function compileGradients(spec: TrainStepSpec): CompiledProgram {
  const dtype = spec.dtype ?? 'float32';
  const g = new Graph('gradients');
  const params = declareParams(g, spec, dtype);
  const batch: Record<string, Tensor> = {};
  for (const b of spec.batch) batch[b.name] = g.input(names.batch(b.name), b.dtype, b.shape);
  const frozen = frozenTensors(g, spec);
  const p: Record<string, Tensor> = {};
  spec.params.forEach((s, i) => (p[s.name] = params[i]));
  const { loss, metrics } = evalLoss(spec, { graph: g, params: p, batch, frozen });
  g.output(names.loss, loss);
  for (const [k, t] of Object.entries(metrics)) g.output(names.metric(k), t);
  grad(loss, params).forEach((t, i) => g.output(names.grad(spec.params[i].name), t));
  return {
    graph: g,
    inputs: g.inputs.map((t) => t.name),
    outputs: g.outputs.map((t) => t.name),
    state: params.map((t) => t.name),
  };
}

/**
 * K optimizer steps in one run: an ONNX Loop over the leading (micro-batch) axis of every batch
 * input. Inputs: params, optimizer state, `step` (int64, steps taken so far), `lr`, batches [K, ...].
 * Outputs: `new.*` for params/state/step, `losses` [K], `grad_norms` [K] when clipping, metrics [K].
 * With `singleStep`, K is 1 and the Loop's body is written once in the main graph instead.
 */
export function compileTrainStep(spec: TrainStepSpec): CompiledProgram {
  const dtype = spec.dtype ?? 'float32';
  const adam = spec.optimizer.kind === 'adamw';
  const g = new Graph('train_step');
  const params = declareParams(g, spec, dtype);
  const ms = adam ? spec.params.map((p) => g.input(names.m(p.name), dtype, p.shape)) : [];
  const vs = adam ? spec.params.map((p) => g.input(names.v(p.name), dtype, p.shape)) : [];
  const step = g.input(names.step, 'int64', []);
  const lrIn = g.input(names.lr, dtype, spec.lrPerStep ? ['steps'] : []);
  const lead = spec.accumulate ? ['steps', 'micro_batches'] : ['micro_batches'];
  const batches = spec.batch.map((b) => g.input(names.batch(b.name), b.dtype, [...lead, ...b.shape]));
  const frozen = frozenTensors(g, spec);
  const n = params.length;
  let metricNames: string[] = [];

  const body = ({ iter, carried: c }: { iter: Tensor; carried: Tensor[] }) => {
    const ps = c.slice(0, n);
    const lr = spec.lrPerStep ? op.gather(lrIn, iter, 0) : lrIn;
    const stepBatches = batches.map((b) => op.gather(b, iter, 0));
    const p: Record<string, Tensor> = {};
    spec.params.forEach((s, i) => (p[s.name] = ps[i]));
    const lossAndGrads = (bs: Tensor[]) => {
      const batch: Record<string, Tensor> = {};
      spec.batch.forEach((b, i) => (batch[b.name] = bs[i]));
      const { loss, metrics } = evalLoss(spec, {
        graph: graphOf('train step', ...bs, ...ps),
        params: p,
        batch,
        frozen,
      });
      metricNames = Object.keys(metrics);
      return { loss, metrics: Object.values(metrics), grads: grad(loss, ps) };
    };
    let loss: Tensor;
    let metricValues: Tensor[];
    let grads: Tensor[];
    if (!spec.accumulate) ({ loss, metrics: metricValues, grads } = lossAndGrads(stepBatches));
    else {
      // Inner Loop over micro-batches: sums of gradients, loss and metrics, then means.
      const count = op.dimOf(stepBatches[0], 0);
      let nMetrics = 0;
      const inner = op.loop(ps[0].graph, {
        tripCount: count,
        carried: [...ps.map((x) => op.zerosLike(x)), op.scalar(ps[0].graph, 0, dtype)],
        name: 'micro_batch',
        body: ({ iter: j, carried: acc }) => {
          const r = lossAndGrads(stepBatches.map((b) => op.gather(b, j, 0)));
          nMetrics = r.metrics.length;
          return {
            carried: [...r.grads.map((x, i) => op.add(acc[i], x)), op.add(acc[n], r.loss)],
            scans: r.metrics,
          };
        },
      });
      const denom = op.cast(count, dtype);
      grads = inner.carried.slice(0, n).map((x) => op.div(x, denom));
      loss = op.div(inner.carried[n], denom);
      metricValues = inner.scans.slice(0, nMetrics).map((m) => op.reduceMean(m, [0]));
    }
    const scansOut = [loss];
    let gradScale: Tensor | undefined;
    if (spec.clipNorm !== undefined) {
      const clipped = clipScale(grads, spec.clipNorm);
      gradScale = clipped.scale;
      if (spec.optimizer.kind !== 'adamw') grads = grads.map((x) => op.mul(x, clipped.scale));
      scansOut.push(clipped.norm);
    }
    scansOut.push(...metricValues);
    const t = op.add(c[c.length - 1], 1);
    let next: Tensor[];
    if (spec.optimizer.kind === 'adamw') {
      const cfg = spec.optimizer;
      const k = { t: op.cast(t, dtype), lr, gradScale };
      const upd = ps.map((x, i) =>
        adamwUpdate({ param: x, m: c[n + i], v: c[2 * n + i] }, grads[i], k, cfg, spec.params[i].decay ?? true),
      );
      next = [...upd.map((u) => u.param), ...upd.map((u) => u.m), ...upd.map((u) => u.v)];
    } else next = ps.map((x, i) => sgdUpdate(x, grads[i], lr));
    return { carried: [...next, t], scans: scansOut };
  };
  const stateIn = [...params, ...ms, ...vs, step];
  const { carried, scans } = spec.singleStep
    ? singleStep(g, body, stateIn)
    : op.loop(g, { tripCount: op.dimOf(batches[0], 0), carried: stateIn, name: 'micro_step', body });
  stateIn.forEach((t, i) => g.output(names.updated(t.name), carried[i]));
  g.output(names.losses, scans[0]);
  let k = 1;
  if (spec.clipNorm !== undefined) g.output(names.gradNorms, scans[k++]);
  for (const m of metricNames) g.output(names.metric(m), scans[k++]);
  return {
    graph: g,
    inputs: g.inputs.map((t) => t.name),
    outputs: g.outputs.map((t) => t.name),
    state: stateIn.map((t) => t.name),
  };
}

/** A Loop body run once, in `g` itself, at iteration 0: the carried values and scans ([1, ...]) a one-trip Loop gives. */
function singleStep(
  g: Graph,
  body: (x: { iter: Tensor; carried: Tensor[] }) => { carried: Tensor[]; scans: Tensor[] },
  carried: Tensor[],
): { carried: Tensor[]; scans: Tensor[] } {
  const r = body({ iter: op.scalar(g, 0, 'int64'), carried });
  return { carried: r.carried, scans: r.scans.map((t) => op.unsqueeze(t, [0])) };
}

/** Zero-initialised optimizer state (and step 0) for a spec. */
export function initialOptimizerState(spec: TrainStepSpec): Record<string, TensorData> {
  const dtype = spec.dtype ?? 'float32';
  const out: Record<string, TensorData> = { [names.step]: { dtype: 'int64', shape: [], data: new BigInt64Array(1) } };
  if (spec.optimizer.kind !== 'adamw') return out;
  for (const p of spec.params) {
    const len = p.shape.reduce((a, b) => a * b, 1);
    const mk = () => (dtype === 'float64' ? new Float64Array(len) : new Float32Array(len));
    out[names.m(p.name)] = { dtype, shape: p.shape, data: mk() };
    out[names.v(p.name)] = { dtype, shape: p.shape, data: mk() };
  }
  return out;
}
