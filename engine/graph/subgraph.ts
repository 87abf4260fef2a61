import type { Graph, Node, Tensor } from './graph';

/** Tensors from outside `g` that nodes of `g` (or of its own subgraphs) read: ONNX outer-scope values. */
export function outerReads(g: Graph): Tensor[] {
  const seen = new Set<Tensor>();
  const visit = (h: Graph) => {
    for (const n of h.nodes) {
      for (const t of n.inputs) if (t && !isWithin(t.graph, g)) seen.add(t);
      for (const sub of subgraphsOf(n)) visit(sub);
    }
  };
  visit(g);
  return [...seen];
}

export function subgraphsOf(n: Node): Graph[] {
  return Object.values(n.attrs).flatMap((a) => (a.kind === 'graph' ? [a.value] : []));
}

function isWithin(h: Graph, g: Graph): boolean {
  for (let x: Graph | undefined = h; x; x = x.parent) if (x === g) return true;
  return false;
}

/** All tensors a node depends on: its inputs plus the outer-scope reads of its subgraphs. */
export function dependencies(n: Node): Tensor[] {
  const deps = n.inputs.filter((t): t is Tensor => !!t);
  for (const sub of subgraphsOf(n)) deps.push(...outerReads(sub));
  return deps;
}
