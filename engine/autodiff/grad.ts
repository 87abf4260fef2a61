import { type Node, type Tensor, isFloat, tensorData } from '../graph';
import { add, constant, zerosLike } from '../ops';
import { compositeOf, ruleOf } from '../ops/grad-rules';
import { dependencies } from '../graph/subgraph';

export interface GradOptions {
  /** Gradient of the output (defaults to ones; required when `y` is not a scalar). */
  seed?: Tensor;
  /** What to return for a `wrt` tensor the output does not depend on: zeros (default) or undefined. */
  unreachable?: 'zeros' | 'undefined';
}

/**
 * Reverse-mode differentiation of `y` with respect to each tensor in `wrt`, emitted as ONNX ops in
 * the graph(s) of the forward pass. Only nodes lying on a path from some `wrt` to `y` are visited.
 */
export function grad(
  y: Tensor,
  wrt: Tensor[],
  opts: GradOptions & { unreachable: 'undefined' },
): (Tensor | undefined)[];
export function grad(y: Tensor, wrt: Tensor[], opts?: GradOptions): Tensor[];
export function grad(y: Tensor, wrt: Tensor[], opts: GradOptions = {}): (Tensor | undefined)[] {
  if (!isFloat(y.dtype)) throw new Error(`grad: output ${y} is not a float tensor`);
  // 1. Nodes the output depends on, in creation (= topological) order.
  const nodes = new Set<Node>();
  const stack: Tensor[] = [y];
  while (stack.length) {
    const t = stack.pop()!;
    const p = compositeOf(t) ?? t.producer;
    if (!p || nodes.has(p)) continue;
    nodes.add(p);
    stack.push(...dependencies(p));
  }
  const order = [...nodes].sort((a, b) => a.seq - b.seq);
  // 2. Tensors that depend on some wrt tensor (forward reachability).
  const active = new Set<Tensor>(wrt);
  const activeNodes: Node[] = [];
  for (const n of order) {
    if (!dependencies(n).some((t) => active.has(t))) continue;
    activeNodes.push(n);
    for (const o of n.outputs) if (isFloat(o.dtype)) active.add(o);
  }
  // 3. Backward sweep.
  const grads = new Map<Tensor, Tensor>();
  let seed = opts.seed;
  if (!seed) {
    if (!y.shape.every((d) => d === 1))
      throw new Error(`grad: output ${y} is not a scalar; pass a seed gradient of its shape`);
    seed = constant(y.graph, tensorData(y.dtype, y.shape as number[], [1]));
  }
  grads.set(y, seed);
  for (let k = activeNodes.length - 1; k >= 0; k--) {
    const n = activeNodes[k];
    const rule = ruleOf(n);
    // an op inside a composite, reached by another path: its outputs that are the composite's have
    // their gradient taken by the composite's rule
    const dOut = n.outputs.map((o) => {
      const c = compositeOf(o);
      return c && c !== n ? undefined : grads.get(o);
    });
    if (dOut.every((d) => !d)) continue;
    if (!rule)
      throw new Error(
        `grad: no gradient rule for ${n.op} (node ${n.name}); it lies between the parameters and the output`,
      );
    const needs = n.inputs.map((t) => !!t && active.has(t) && isFloat(t.dtype));
    const dIn = rule(n, dOut, needs);
    n.inputs.forEach((t, i) => {
      const d = dIn[i];
      if (!t || !d || !needs[i]) return;
      if (d.rank !== t.rank) throw new Error(`grad: rule for ${n.op} gave ${d} for input ${t}`);
      const prev = grads.get(t);
      grads.set(t, prev ? add(prev, d) : d);
    });
  }
  return wrt.map((w) => grads.get(w) ?? (opts.unreachable === 'undefined' ? undefined : zerosLike(w)));
}
