// Each op file registers its gradient rule beside its forward definition; autodiff/ reads the rules, so
// the registry lives here, below both, and ops never import autodiff.
import type { Node, Tensor } from '../graph';

/**
 * A gradient rule: given the node, the gradients of its outputs (undefined where no gradient flows)
 * and which inputs need a gradient, returns the gradients of its inputs (undefined where none).
 * Rules emit ordinary ONNX ops through the same builder API as the forward pass.
 */
export type GradRule = (node: Node, dOutputs: (Tensor | undefined)[], needs: boolean[]) => (Tensor | undefined)[];

const rules = new Map<string, GradRule>();

export function defineGrad(op: string, rule: GradRule): void {
  if (rules.has(op)) throw new Error(`gradient rule for ${op} defined twice`);
  rules.set(op, rule);
}

export function gradRule(op: string): GradRule | undefined {
  return rules.get(op);
}

/**
 * A composite: ops already emitted that compute `outputs` from `inputs`, differentiated as one unit by
 * its own `rule` (the node the rule gets has the composite's inputs and outputs), because a
 * hand-written gradient of the whole can take fewer passes over large tensors than the chain of its
 * ops' rules (the attention core's softmax gradient from the context, say). Autodiff walks from a
 * composite's outputs straight to its inputs; the ops between them are never differentiated.
 */
const composites = new WeakMap<Tensor, Node>();
const compositeRules = new WeakMap<Node, GradRule>();

export function defineComposite(name: string, inputs: Tensor[], outputs: Tensor[], rule: GradRule): void {
  const seq = Math.max(...outputs.map((t) => t.producer?.seq ?? -1));
  if (seq < 0) throw new Error(`composite ${name}: its outputs must be computed by ops`);
  const node: Node = { op: `composite:${name}`, name, domain: '', inputs, outputs, attrs: {}, seq };
  compositeRules.set(node, rule);
  for (const t of outputs) composites.set(t, node);
}

/** The composite `t` is an output of, when it is one. */
export function compositeOf(t: Tensor): Node | undefined {
  return composites.get(t);
}

/** The rule of a node: a composite's own, or its op's. */
export function ruleOf(n: Node): GradRule | undefined {
  return compositeRules.get(n) ?? rules.get(n.op);
}
