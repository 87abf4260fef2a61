import { type Attr, type DType, type Dim, type Tensor, attr, tensorData } from '../graph';
import { broadcast, dimProduct, fmt, isStatic, normAxis } from '../graph/shape';
import { defineGrad } from './grad-rules';
import { constInts, emit, emit1, ints, scalar } from './core';
import { sumToShape } from './broadcast';
import { add } from './elementwise';
import { gather } from './indexing-gather';

const INT_MAX = 2 ** 62;

/** Symbolic product of dims divided by a numeric divisor: number, 'a*b' style string, or null. */
function symbolicQuotient(num: readonly Dim[], den: number): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of num) {
    if (d === null) return null;
    if (typeof d === 'number') n *= d;
    else syms.push(d);
  }
  if (n % den !== 0) return null;
  n /= den;
  if (!syms.length) return n;
  return [...(n !== 1 ? [String(n)] : []), ...syms.sort()].join('*');
}

/** The shape a shape-tensor describes, when known at build time (constant, or Shape(z)). */
export function shapeValue(s: Tensor): Dim[] | undefined {
  const c = constInts(s);
  if (c) return c;
  const p = s.producer;
  if (p?.op === 'Shape' && !p.attrs.start && !p.attrs.end) return [...p.inputs[0]!.shape];
  if (p?.op === 'Concat') {
    const parts = p.inputs.map((t) => shapeValue(t!));
    if (parts.every((x) => x)) return parts.flat() as Dim[];
  }
  return undefined;
}

export function reshape(x: Tensor, shape: number[] | Tensor): Tensor {
  const op = 'Reshape';
  const spec = Array.isArray(shape) ? shape : shapeValue(shape);
  const shapeT = Array.isArray(shape) ? ints(x.graph, shape) : shape;
  if (!Array.isArray(shape) && (shape.dtype !== 'int64' || shape.rank !== 1))
    throw new Error(`${op}: shape must be a 1-D int64 tensor, got ${shape}`);
  let out: Dim[];
  if (!spec) {
    const r = shapeT.shape[0];
    if (typeof r !== 'number') throw new Error(`${op}: shape tensor ${shapeT} has unknown length`);
    out = new Array<Dim>(r).fill(null);
  } else {
    out = spec.map((d, i) => (d === 0 ? x.shape[i] : d));
    const neg = out.findIndex((d) => d === -1);
    if (out.filter((d) => d === -1).length > 1) throw new Error(`${op}: more than one -1 in ${fmt(spec)}`);
    const known = dimProduct(out.filter((_, i) => i !== neg));
    if (neg >= 0) out[neg] = known === null ? null : symbolicQuotient(x.shape, known);
    else {
      const a = dimProduct(x.shape);
      const b = dimProduct(out);
      if (a !== null && b !== null && a !== b) throw new Error(`${op}: cannot reshape ${x} to ${fmt(spec)}`);
    }
  }
  return emit1(op, [x, shapeT], x.dtype, out);
}

export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? [...Array(x.rank).keys()].reverse();
  if (p.length !== x.rank || [...p].sort().some((v, i) => v !== i))
    throw new Error(`Transpose: bad perm [${p}] for ${x}`);
  return emit1(
    'Transpose',
    [x],
    x.dtype,
    p.map((i) => x.shape[i]),
    { perm: attr.ints(p) },
  );
}

export function unsqueeze(x: Tensor, axes: number[]): Tensor {
  const rank = x.rank + axes.length;
  const ax = axes.map((a) => normAxis('Unsqueeze', a, rank)).sort((a, b) => a - b);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[j++]);
  return emit1('Unsqueeze', [x, ints(x.graph, ax)], x.dtype, out);
}

export function squeeze(x: Tensor, axes?: number[]): Tensor {
  const ax = (axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis('Squeeze', a, x.rank));
  for (const a of ax)
    if (x.shape[a] !== 1 && x.shape[a] !== null) throw new Error(`Squeeze: axis ${a} of ${x} is not 1`);
  return emit1(
    'Squeeze',
    [x, ints(x.graph, ax)],
    x.dtype,
    x.shape.filter((_, i) => !ax.includes(i)),
  );
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (!xs.length) throw new Error('Concat: no inputs');
  const r = xs[0].rank;
  const a = normAxis('Concat', axis, r);
  const out: Dim[] = [...xs[0].shape];
  for (const t of xs) {
    if (t.rank !== r || t.dtype !== xs[0].dtype) throw new Error(`Concat: mismatched inputs ${xs.join(', ')}`);
    t.shape.forEach((d, i) => {
      if (i === a) return;
      if (typeof d === 'number' && typeof out[i] === 'number' && d !== out[i])
        throw new Error(`Concat: dim ${i} differs among ${xs.join(', ')}`);
      if (typeof out[i] !== 'number') out[i] = d;
    });
  }
  out[a] = xs.every((t) => typeof t.shape[a] === 'number') ? xs.reduce((s, t) => s + (t.shape[a] as number), 0) : null;
  return emit1('Concat', xs, xs[0].dtype, out, { axis: attr.int(a) });
}

/** Slice with constant (number[]) or runtime (1-D int64 tensor) starts/ends. */
export function slice(
  x: Tensor,
  starts: number[] | Tensor,
  ends: number[] | Tensor,
  axes?: number[],
  steps?: number[],
): Tensor {
  const op = 'Slice';
  const n = Array.isArray(starts) ? starts.length : (starts.shape[0] as number);
  const ax = (axes ?? [...Array(n).keys()]).map((a) => normAxis(op, a, x.rank));
  const st = steps ?? ax.map(() => 1);
  const out: Dim[] = [...x.shape];
  const s0 = Array.isArray(starts) ? starts : constInts(starts);
  const e0 = Array.isArray(ends) ? ends : constInts(ends);
  ax.forEach((a, k) => {
    const d = x.shape[a];
    if (!s0 || !e0) return void (out[a] = null);
    const [s, e, step] = [s0[k], e0[k], st[k]];
    if (typeof d !== 'number') {
      out[a] = s === 0 && e >= INT_MAX && step === 1 ? d : null;
      return;
    }
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    if (step > 0) out[a] = Math.max(0, Math.ceil((clamp(e, 0, d) - clamp(s, 0, d)) / step));
    else out[a] = Math.max(0, Math.ceil((clamp(s, -1, d - 1) - clamp(e, -1, d - 1)) / -step));
  });
  const g = x.graph;
  const toT = (v: number[] | Tensor) => (Array.isArray(v) ? ints(g, v) : v);
  return emit1(op, [x, toT(starts), toT(ends), ints(g, ax), ints(g, st)], x.dtype, out);
}

/** Split along axis into the given sizes (or `count` equal parts). */
/**
 * Split along `axis` into parts of the given sizes, into `sizes` equal parts, or by a 1-D int64
 * tensor of sizes known only at run time (its length static: one output per entry).
 */
export function split(x: Tensor, sizes: number[] | number | Tensor, axis = 0): Tensor[] {
  const a = normAxis('Split', axis, x.rank);
  const d = x.shape[a];
  let sz: Dim[];
  let sizesInput: Tensor | undefined;
  if (typeof sizes === 'number') {
    if (typeof d === 'number' && d % sizes !== 0) throw new Error(`Split: ${x} dim ${a} not divisible by ${sizes}`);
    sz = new Array<Dim>(sizes).fill(typeof d === 'number' ? d / sizes : null);
  } else if (Array.isArray(sizes)) {
    if (typeof d === 'number' && sizes.reduce((s, v) => s + v, 0) !== d)
      throw new Error(`Split: sizes [${sizes}] do not sum to dim ${a} of ${x}`);
    sz = sizes;
    sizesInput = ints(x.graph, sizes);
  } else {
    const n = sizes.shape[0];
    if (sizes.rank !== 1 || sizes.dtype !== 'int64' || typeof n !== 'number')
      throw new Error(`Split: runtime sizes ${sizes} must be 1-D int64 of static length`);
    sz = new Array<Dim>(n).fill(null);
    sizesInput = sizes;
  }
  const outs = sz.map((s) => ({ dtype: x.dtype, shape: x.shape.map((v, i) => (i === a ? s : v)) }));
  const attrs: Record<string, Attr> = { axis: attr.int(a) };
  if (typeof sizes === 'number') attrs.num_outputs = attr.int(sizes);
  return emit('Split', [x, sizesInput], outs, attrs);
}

export function expand(x: Tensor, shape: number[] | Tensor): Tensor {
  const spec = Array.isArray(shape) ? shape : shapeValue(shape);
  const shapeT = Array.isArray(shape) ? ints(x.graph, shape) : shape;
  const out = spec
    ? broadcast('Expand', x.shape, spec)
    : new Array<Dim>(Math.max(x.rank, shapeT.shape[0] as number)).fill(null);
  return emit1('Expand', [x, shapeT], x.dtype, out);
}

/** Shape(x)[start:end] as a 1-D int64 tensor. */
export function shapeOf(x: Tensor, start?: number, end?: number): Tensor {
  const s = start === undefined ? 0 : start < 0 ? start + x.rank : start;
  const e = end === undefined ? x.rank : end < 0 ? end + x.rank : end;
  const attrs = {
    ...(start !== undefined ? { start: attr.int(start) } : {}),
    ...(end !== undefined ? { end: attr.int(end) } : {}),
  };
  const t = emit1('Shape', [x], 'int64', [Math.max(0, e - s)], attrs);
  if (isStatic(x.shape.slice(s, e))) t.constValue = tensorData('int64', [e - s], x.shape.slice(s, e) as number[]);
  return t;
}

/** Size of one dimension as an int64 scalar tensor (a constant when known). */
export function dimOf(x: Tensor, axis: number): Tensor {
  const a = normAxis('dimOf', axis, x.rank);
  const d = x.shape[a];
  if (typeof d === 'number') return scalar(x.graph, d, 'int64');
  return gather(shapeOf(x), scalar(x.graph, a, 'int64'), 0);
}

export function range(start: Tensor, limit: Tensor, delta: Tensor): Tensor {
  const c = [start, limit, delta].map((t) => constInts(t)?.[0]);
  const n = c.every((v) => v !== undefined) ? Math.max(0, Math.ceil((c[1]! - c[0]!) / c[2]!)) : null;
  if (start.rank || limit.rank || delta.rank) throw new Error('Range: start, limit and delta must be scalars');
  return emit1('Range', [start, limit, delta], start.dtype, [n]);
}

export function constantOfShape(shape: Tensor | number[], value: number, dtype: DType): Tensor {
  if (Array.isArray(shape)) throw new Error('constantOfShape: pass a shape tensor (use constant() for static shapes)');
  const spec = shapeValue(shape);
  const out = spec ?? new Array<Dim>(shape.shape[0] as number).fill(null);
  return emit1('ConstantOfShape', [shape], dtype, out, { value: attr.tensor(tensorData(dtype, [1], [value])) });
}

/** Zeros shaped like `like` (ConstantOfShape(Shape(like)), or a broadcast scalar when static). */
export function zerosLike(like: Tensor, dtype: DType = like.dtype): Tensor {
  return constantOfShape(shapeOf(like), 0, dtype);
}

/** Constant-mode Pad with static pads [begin..., end...]. */
export function pad(x: Tensor, pads: number[], value = 0): Tensor {
  if (pads.length !== 2 * x.rank) throw new Error(`Pad: ${pads.length} pads for ${x}`);
  const out = x.shape.map((d, i) =>
    typeof d === 'number' ? d + pads[i] + pads[i + x.rank] : pads[i] || pads[i + x.rank] ? null : d,
  );
  return emit1('Pad', [x, ints(x.graph, pads), scalar(x.graph, value, x.dtype)], x.dtype, out, {
    mode: attr.string('constant'),
  });
}

// ---- gradient rules ----
const backToShape = (d: Tensor, x: Tensor): Tensor => reshape(d, isStatic(x.shape) ? x.shape : shapeOf(x));

defineGrad('Reshape', (n, [d]) => [backToShape(d!, n.inputs[0]!), undefined]);
defineGrad('Unsqueeze', (n, [d]) => [backToShape(d!, n.inputs[0]!), undefined]);
defineGrad('Squeeze', (n, [d]) => [backToShape(d!, n.inputs[0]!), undefined]);
defineGrad('Transpose', (n, [d]) => {
  const perm = (n.attrs.perm as { value: number[] }).value;
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return [transpose(d!, inv)];
});
defineGrad('Expand', (n, [d]) => [sumToShape(d!, n.inputs[0]!), undefined]);
defineGrad('Concat', (n, [d]) => {
  const a = (n.attrs.axis as { value: number }).value;
  const xs = n.inputs as Tensor[];
  if (xs.every((t) => typeof t.shape[a] === 'number'))
    return split(
      d!,
      xs.map((t) => t.shape[a] as number),
      a,
    );
  let start: Tensor = scalar(d!.graph, 0, 'int64');
  return xs.map((t) => {
    const end = add(start, dimOf(t, a));
    const g = slice(d!, reshape(start, [1]), reshape(end, [1]), [a]);
    start = end;
    return g;
  });
});
defineGrad('Split', (n, ds) => {
  const a = (n.attrs.axis as { value: number }).value;
  const parts = ds.map((d, i) => d ?? zerosLike(n.outputs[i]));
  return [concat(parts, a), undefined];
});
defineGrad('Slice', (n, [d]) => {
  const [x, s, e, ax, st] = n.inputs as Tensor[];
  const [starts, ends, axes, steps] = [s, e, ax, st].map(constInts);
  if (!starts || !ends || !axes || !steps || steps.some((v) => v !== 1))
    throw new Error('Slice gradient: needs constant starts/ends and step 1');
  const pads = new Array<number>(2 * x.rank).fill(0);
  axes.forEach((a, k) => {
    const dim = x.shape[a];
    if (typeof dim !== 'number') throw new Error(`Slice gradient: dim ${a} of ${x} must be static`);
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    pads[a] = norm(starts[k]);
    pads[a + x.rank] = dim - Math.max(norm(ends[k]), norm(starts[k]));
  });
  return [pad(d!, pads), undefined, undefined, undefined, undefined];
});
defineGrad('Pad', (n, [d]) => {
  const x = n.inputs[0]!;
  const pads = constInts(n.inputs[1])!;
  const r = x.rank;
  if (!pads || pads.some((p) => p < 0) || !isStatic(d!.shape))
    throw new Error('Pad gradient: needs static non-negative pads');
  const dims = d!.shape as number[];
  return [
    slice(
      d!,
      pads.slice(0, r),
      dims.map((v, i) => v - pads[i + r]),
      [...Array(r).keys()],
    ),
  ];
});
