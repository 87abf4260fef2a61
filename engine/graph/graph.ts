import { type DType, type TensorData, ONNX_DTYPE } from './dtype';

/** A dimension: a known size, a named symbolic size ('batch', 'seq'), or unknown (null). */
export type Dim = number | string | null;
export type Shape = readonly Dim[];

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: TensorData }
  | { kind: 'graph'; value: Graph };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  tensor: (value: TensorData): Attr => ({ kind: 'tensor', value }),
  graph: (value: Graph): Attr => ({ kind: 'graph', value }),
};

/** A symbolic tensor: a named value in a graph with a dtype and an inferred shape. */
export class Tensor {
  /** The node that produced it; undefined for graph inputs and initializers. */
  producer?: Node;
  /** The value, when it is a build-time constant (lets Reshape/Slice/... infer shapes). */
  constValue?: TensorData;

  constructor(
    readonly graph: Graph,
    /** Mutable only through Graph.output(), which may rename a value instead of copying it. */
    public name: string,
    readonly dtype: DType,
    readonly shape: Shape,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;
  }
}

export interface Node {
  op: string;
  name: string;
  domain: string;
  inputs: (Tensor | undefined)[];
  outputs: Tensor[];
  attrs: Record<string, Attr>;
  /** Global creation order: a valid topological order across a graph and its subgraphs. */
  seq: number;
}

interface Shared {
  names: Set<string>;
  counter: number;
  seq: number;
}

/**
 * A computation graph (the root program, or the body of a Loop / branch of an If).
 * Subgraphs may read any tensor of their ancestors by name (ONNX outer-scope values).
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers = new Map<string, TensorData>();
  readonly depth: number;
  private readonly shared: Shared;

  constructor(
    readonly name = 'main',
    readonly parent?: Graph,
  ) {
    this.depth = parent ? parent.depth + 1 : 0;
    this.shared = parent ? parent.shared : { names: new Set(), counter: 0, seq: 0 };
  }

  /** A name not used yet in the root graph or any subgraph (claimed when a value takes it). */
  fresh(prefix = 't'): string {
    let name: string;
    do name = `${prefix}_${this.shared.counter++}`;
    while (this.shared.names.has(name));
    return name;
  }

  private claim(name: string): string {
    if (this.shared.names.has(name)) throw new Error(`graph ${this.name}: name '${name}' is already used`);
    this.shared.names.add(name);
    return name;
  }

  subgraph(name: string): Graph {
    return new Graph(name, this);
  }

  /** True when tensors of `other` may be read from this graph (same graph or an ancestor). */
  canSee(other: Graph): boolean {
    return this === other || (!!this.parent && this.parent.canSee(other));
  }

  input(name: string, dtype: DType, shape: Shape): Tensor {
    const t = new Tensor(this, this.claim(name), dtype, shape);
    this.inputs.push(t);
    return t;
  }

  /** A named constant stored in the model (frozen weights). */
  initializer(name: string, value: TensorData): Tensor {
    const t = new Tensor(this, this.claim(name), value.dtype, value.shape);
    t.constValue = value.data.length <= 64 ? value : undefined;
    this.initializers.set(t.name, value);
    return t;
  }

  /**
   * Marks `t` as a graph output under `name`. A value computed by a node of this graph is renamed
   * (no copy); graph inputs, outer-scope values and values already output go through an Identity.
   */
  output(name: string, t: Tensor): Tensor {
    if (!this.canSee(t.graph)) throw new Error(`output ${name}: tensor ${t.name} is not visible from ${this.name}`);
    if (t.graph === this && t.producer && !this.outputs.includes(t) && t.producer.op !== 'Constant') {
      if (t.name !== name) {
        this.claim(name);
        this.shared.names.delete(t.name);
        t.name = name;
      }
      this.outputs.push(t);
      return t;
    }
    const out = this.addNode('Identity', [t], [{ dtype: t.dtype, shape: t.shape }], {}, name)[0];
    this.outputs.push(out);
    return out;
  }

  /** Appends a node; output specs give dtype and shape inferred by the caller. */
  addNode(
    op: string,
    inputs: (Tensor | undefined)[],
    outs: { dtype: DType; shape: Shape }[],
    attrs: Record<string, Attr> = {},
    outputName?: string,
    domain = '',
  ): Tensor[] {
    for (const t of inputs)
      if (t && !this.canSee(t.graph))
        throw new Error(`${op}: input ${t.name} belongs to graph ${t.graph.name}, not visible from ${this.name}`);
    const node: Node = {
      op,
      name: this.claim(this.fresh(op)),
      domain,
      inputs,
      outputs: [],
      attrs,
      seq: this.shared.seq++,
    };
    node.outputs = outs.map((o, i) => {
      const name = this.claim(outputName && i === 0 ? outputName : this.fresh(op.toLowerCase()));
      const t = new Tensor(this, name, o.dtype, o.shape);
      t.producer = node;
      return t;
    });
    this.nodes.push(node);
    return node.outputs;
  }
}

/** The innermost graph among the tensors' graphs (they must lie on one ancestor chain). */
export function graphOf(op: string, ...ts: (Tensor | undefined)[]): Graph {
  let g: Graph | undefined;
  for (const t of ts) {
    if (!t) continue;
    if (!g || t.graph.depth > g.depth) g = t.graph;
  }
  if (!g) throw new Error(`${op}: needs at least one tensor input`);
  for (const t of ts)
    if (t && !g.canSee(t.graph)) throw new Error(`${op}: tensors ${t.name} and others come from unrelated graphs`);
  return g;
}

export function onnxElemType(d: DType): number {
  return ONNX_DTYPE[d];
}
