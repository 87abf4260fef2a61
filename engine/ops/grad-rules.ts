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
