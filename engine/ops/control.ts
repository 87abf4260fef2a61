import { type Dim, type Graph, type Shape, type Tensor, attr } from '../graph';
import { fmt } from '../graph/shape';
import { constInts } from './core';

export interface LoopBodyContext {
  /** The body graph (ops on body tensors land here automatically). */
  graph: Graph;
  /** Iteration number, int64 scalar. */
  iter: Tensor;
  /** Incoming loop condition, bool scalar. */
  cond: Tensor;
  /** Loop-carried values as seen inside this iteration. */
  carried: Tensor[];
}

export interface LoopBodyResult {
  /** Continue condition (defaults to the incoming one). */
  cond?: Tensor;
  carried: Tensor[];
  /** Per-iteration values stacked along a new leading axis. */
  scans?: Tensor[];
}

export interface LoopOptions {
  /** int64 scalar trip count (or a number); omit for a condition-only loop. */
  tripCount?: Tensor | number;
  cond?: Tensor;
  carried: Tensor[];
  /** Shapes of carried values inside the body when they change across iterations. */
  carriedShapes?: Shape[];
  body: (ctx: LoopBodyContext) => LoopBodyResult;
  name?: string;
}

function merge(a: Shape, b: Shape): Dim[] {
  if (a.length !== b.length) throw new Error(`shapes ${fmt(a)} and ${fmt(b)} differ in rank`);
  return a.map((d, i) => (d === b[i] ? d : null));
}

/**
 * ONNX Loop in graph `g`. The body may read any tensor visible from `g` (outer scope).
 * Returns the final carried values and the stacked scan outputs.
 */
export function loop(g: Graph, opts: LoopOptions): { carried: Tensor[]; scans: Tensor[] } {
  const body = g.subgraph(opts.name ?? g.fresh('loop_body'));
  const iter = body.input(body.fresh('iter'), 'int64', []);
  const condIn = body.input(body.fresh('cond_in'), 'bool', []);
  const carriedIn = opts.carried.map((t, i) =>
    body.input(body.fresh('carried_in'), t.dtype, opts.carriedShapes?.[i] ?? t.shape),
  );
  const res = opts.body({ graph: body, iter, cond: condIn, carried: carriedIn });
  if (res.carried.length !== opts.carried.length)
    throw new Error(`Loop: body returned ${res.carried.length} carried values, expected ${opts.carried.length}`);
  res.carried.forEach((t, i) => {
    if (t.dtype !== opts.carried[i].dtype)
      throw new Error(`Loop: carried ${i} changes dtype (${opts.carried[i]} -> ${t})`);
    if (t.rank !== carriedIn[i].rank) throw new Error(`Loop: carried ${i} changes rank (${carriedIn[i]} -> ${t})`);
  });
  body.output(body.fresh('cond_out'), res.cond ?? condIn);
  const carriedOut = res.carried.map((t) => body.output(body.fresh('carried_out'), t));
  const scans = (res.scans ?? []).map((t) => body.output(body.fresh('scan_out'), t));

  const g0 = g;
  let trip: Tensor | undefined;
  if (typeof opts.tripCount === 'number') {
    const [t] = g0.addNode('Constant', [], [{ dtype: 'int64', shape: [] }], {
      value: attr.tensor({ dtype: 'int64', shape: [], data: new BigInt64Array([BigInt(opts.tripCount)]) }),
    });
    t.constValue = { dtype: 'int64', shape: [], data: new BigInt64Array([BigInt(opts.tripCount)]) };
    trip = t;
  } else trip = opts.tripCount;
  if (trip && (trip.dtype !== 'int64' || trip.rank !== 0))
    throw new Error(`Loop: trip count must be an int64 scalar, got ${trip}`);
  const n = constInts(trip)?.[0] ?? null;
  const outs = [
    ...carriedOut.map((t, i) => ({ dtype: t.dtype, shape: merge(opts.carried[i].shape, t.shape) })),
    ...scans.map((t) => ({ dtype: t.dtype, shape: [n, ...t.shape] })),
  ];
  const results = g0.addNode('Loop', [trip, opts.cond, ...opts.carried], outs, { body: attr.graph(body) });
  return { carried: results.slice(0, carriedOut.length), scans: results.slice(carriedOut.length) };
}

/** ONNX If in graph `g`: both branches build their outputs (same count and dtypes). */
export function ifElse(
  g: Graph,
  cond: Tensor,
  thenBranch: (b: Graph) => Tensor[],
  elseBranch: (b: Graph) => Tensor[],
): Tensor[] {
  if (cond.dtype !== 'bool') throw new Error(`If: condition must be bool, got ${cond}`);
  const build = (name: string, f: (b: Graph) => Tensor[]) => {
    const b = g.subgraph(g.fresh(name));
    const outs = f(b).map((t) => b.output(b.fresh(`${name}_out`), t));
    return { b, outs };
  };
  const t = build('then', thenBranch);
  const e = build('else', elseBranch);
  if (t.outs.length !== e.outs.length)
    throw new Error(`If: branches return ${t.outs.length} and ${e.outs.length} values`);
  const outs = t.outs.map((x, i) => {
    if (x.dtype !== e.outs[i].dtype) throw new Error(`If: output ${i} dtype differs (${x} vs ${e.outs[i]})`);
    if (x.rank !== e.outs[i].rank) throw new Error(`If: output ${i} rank differs (${x} vs ${e.outs[i]})`);
    return { dtype: x.dtype, shape: merge(x.shape, e.outs[i].shape) };
  });
  return g.addNode('If', [cond], outs, { then_branch: attr.graph(t.b), else_branch: attr.graph(e.b) });
}
