import { type Dim, type Tensor, attr } from '../graph';
import { isStatic, normAxis } from '../graph/shape';
import { defineComposite, defineGrad } from './grad-rules';
import { emit1, ints } from './core';
import { cast } from './elementwise';
import { concat, constantOfShape, expand, reshape, shapeOf, slice, split, transpose, zerosLike } from './shape';
import { gather as gatherOp } from './indexing-gather';

export type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';

function requireIndex(op: string, idx: Tensor): void {
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error(`${op}: indices must be int32/int64, got ${idx}`);
}

/** Gather(x, indices, axis): x[..., indices, ...]. */
export const gather = gatherOp;

/** Gather nodes of gatherRows, with the inverse map their gradient reads. */
const rowInverses = new WeakMap<object, Tensor>();

/**
 * Rows of x [N, ...] at `idx` (any shape), like gather(x, idx, 0), for an index map that reads every
 * row at most once where it matters: `inverse` [N] gives, for each row of x, its position in the
 * flattened idx, or idx.size (one past the end) for a row not read. Slots of idx beyond those the
 * inverse names may read any row, but their gradient must be zero (padding that nothing downstream
 * uses, keys under a -1e9 bias): it is dropped. The gradient is then a gather of the output's
 * gradient rather than a scatter-add (onnxruntime's ScatterElements adds row after row on one thread).
 */
export function gatherRows(x: Tensor, idx: Tensor, inverse: Tensor): Tensor {
  const y = gatherOp(x, idx, 0);
  rowInverses.set(y.producer!, inverse);
  return y;
}

/**
 * gatherRows(x, idx, inverse) cut along its first axis into parts of `sizes` (1-D int64, run time):
 * one gather for several consumers (the query rows of every attention block), whose gradient is one
 * gather from the parts' gradients and a zero row, all in one concat, where a gather per part would
 * take a gather, a concat and an add over all of x's rows per part.
 */
export function gatherRowsSplit(x: Tensor, idx: Tensor, inverse: Tensor, sizes: Tensor): Tensor[] {
  if (idx.rank !== 1) throw new Error(`gatherRowsSplit: indices ${idx} must be 1-D`);
  const parts = split(gatherOp(x, idx, 0), sizes, 0);
  defineComposite('gather_rows_split', [x], parts, (_node, ds) => [
    gatherFromRows(
      x,
      ds.map((d, i) => d ?? zerosLike(parts[i])),
      inverse,
    ),
    undefined,
  ]);
  return parts;
}

export function gatherElements(x: Tensor, idx: Tensor, axis: number): Tensor {
  requireIndex('GatherElements', idx);
  const a = normAxis('GatherElements', axis, x.rank);
  if (idx.rank !== x.rank) throw new Error(`GatherElements: rank of ${idx} differs from ${x}`);
  return emit1('GatherElements', [x, idx], x.dtype, idx.shape, { axis: attr.int(a) });
}

export function gatherND(x: Tensor, idx: Tensor): Tensor {
  requireIndex('GatherND', idx);
  const k = idx.shape[idx.rank - 1];
  if (typeof k !== 'number') throw new Error(`GatherND: last dim of ${idx} must be static`);
  return emit1('GatherND', [x, idx], x.dtype, [...idx.shape.slice(0, -1), ...x.shape.slice(k)]);
}

export function scatterND(data: Tensor, idx: Tensor, updates: Tensor, reduction: Reduction = 'none'): Tensor {
  requireIndex('ScatterND', idx);
  return emit1(
    'ScatterND',
    [data, idx, updates],
    data.dtype,
    data.shape,
    reduction === 'none' ? {} : { reduction: attr.string(reduction) },
  );
}

export function scatterElements(
  data: Tensor,
  idx: Tensor,
  updates: Tensor,
  axis: number,
  reduction: Reduction = 'none',
): Tensor {
  requireIndex('ScatterElements', idx);
  const a = normAxis('ScatterElements', axis, data.rank);
  return emit1('ScatterElements', [data, idx, updates], data.dtype, data.shape, {
    axis: attr.int(a),
    ...(reduction === 'none' ? {} : { reduction: attr.string(reduction) }),
  });
}

// ---- gradient rules ----

/** gatherRows' gradient: rows of d (flattened over idx's dims, then a zero row) at `inverse`. */
function gatherByInverse(x: Tensor, d: Tensor, inverse: Tensor): Tensor {
  return gatherFromRows(x, [d], inverse);
}

/** Rows of the blocks ds (each flattened to rows of x's row shape), then a zero row, at `inverse`. */
function gatherFromRows(x: Tensor, ds: Tensor[], inverse: Tensor): Tensor {
  const rest = x.shape.slice(1);
  const g = x.graph;
  const restShape = isStatic(rest) ? undefined : slice(shapeOf(x), [1], [x.rank], [0]);
  const rows = (d: Tensor) =>
    restShape ? reshape(d, concat([ints(g, [-1]), restShape], 0)) : reshape(d, [-1, ...(rest as number[])]);
  const zero = constantOfShape(
    restShape ? concat([ints(g, [1]), restShape], 0) : ints(g, [1, ...(rest as number[])]),
    0,
    x.dtype,
  );
  return gatherOp(concat([...ds.map(rows), zero], 0), inverse, 0);
}

/** Zeros with x's shape permuted by perm, without materialising the permutation of x. */
function zerosPermuted(x: Tensor, perm: number[]): Tensor {
  const dims: Dim[] = perm.map((p) => x.shape[p]);
  const shape = isStatic(dims) ? ints(x.graph, dims) : gatherOp(shapeOf(x), ints(x.graph, perm), 0);
  return constantOfShape(shape, 0, x.dtype);
}

/**
 * Adds the rows of d into zeros at rows idx (d's leading dims are idx's). ScatterElements, not ScatterND:
 * onnxruntime's CPU ScatterND adds slices from several threads at once, and rows that share an index
 * (an embedding's repeated token ids) lose updates; ScatterElements adds them in order, exactly.
 */
function scatterAddRows(zeros: Tensor, idx: Tensor, d: Tensor): Tensor {
  const rest = zeros.shape.slice(1);
  const rows = reshape(
    d,
    isStatic(rest) ? [-1, ...rest] : concat([ints(d.graph, [-1]), slice(shapeOf(zeros), [1], [zeros.rank], [0])], 0),
  );
  const column = reshape(cast(idx, 'int64'), [-1, ...rest.map(() => 1)]);
  return scatterElements(zeros, expand(column, shapeOf(rows)), rows, 0, 'add');
}

defineGrad('Gather', (n, [d]) => {
  const [x, idx] = n.inputs as Tensor[];
  const a = (n.attrs.axis as { value: number }).value;
  const ri = idx.rank;
  const inverse = rowInverses.get(n);
  if (inverse) return [gatherByInverse(x, d!, inverse), undefined];
  if (a === 0) return [scatterAddRows(zerosLike(x), idx, d!), undefined];
  // Move the gathered axis to the front, scatter-add, move it back.
  const xPerm = [a, ...[...Array(x.rank).keys()].filter((i) => i !== a)];
  const dPerm = [
    ...[...Array(ri).keys()].map((i) => a + i),
    ...[...Array(a).keys()],
    ...[...Array(d!.rank - a - ri).keys()].map((i) => a + ri + i),
  ];
  const acc = scatterAddRows(zerosPermuted(x, xPerm), idx, transpose(d!, dPerm));
  const inv = new Array<number>(xPerm.length);
  xPerm.forEach((p, i) => (inv[p] = i));
  return [transpose(acc, inv), undefined];
});
defineGrad('GatherElements', (n, [d]) => {
  const [x, idx] = n.inputs as Tensor[];
  const a = (n.attrs.axis as { value: number }).value;
  return [scatterElements(zerosLike(x), idx, d!, a, 'add'), undefined];
});
defineGrad('GatherND', (n, [d]) => {
  const [x, idx] = n.inputs as Tensor[];
  return [scatterND(zerosLike(x), idx, d!, 'add'), undefined];
});
defineGrad('ScatterND', (n, [d], needs) => {
  const [, idx, upd] = n.inputs as Tensor[];
  const red = (n.attrs.reduction as { value: string } | undefined)?.value ?? 'none';
  if (red !== 'none' && red !== 'add') throw new Error(`ScatterND gradient: reduction ${red} unsupported`);
  const dData = !needs[0] ? undefined : red === 'add' ? d : scatterND(d!, idx, zerosLike(upd));
  return [dData, undefined, needs[2] ? gatherND(d!, idx) : undefined];
});
defineGrad('ScatterElements', (n, [d], needs) => {
  const [, idx, upd] = n.inputs as Tensor[];
  const a = (n.attrs.axis as { value: number }).value;
  const red = (n.attrs.reduction as { value: string } | undefined)?.value ?? 'none';
  if (red !== 'none' && red !== 'add') throw new Error(`ScatterElements gradient: reduction ${red} unsupported`);
  const dData = !needs[0] ? undefined : red === 'add' ? d : scatterElements(d!, idx, zerosLike(upd), a);
  return [dData, undefined, needs[2] ? gatherElements(d!, idx, a) : undefined];
});
