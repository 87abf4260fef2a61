/** Element types the engine builds graphs with, and their ONNX / typed-array counterparts. */
export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16';
}

export function typedArrayFor(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'float16':
      return new Uint16Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(length);
  }
}

/** A concrete tensor value: used for initializers, constants, feeds and fetched outputs. */
export interface TensorData {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds a TensorData from plain numbers (bigint conversion for int64, 0/1 for bool). */
export function tensorData(dtype: DType, shape: number[], values: ArrayLike<number> | number): TensorData {
  const n = numel(shape);
  const data = typedArrayFor(dtype, n);
  for (let i = 0; i < n; i++) {
    const v = typeof values === 'number' ? values : values[i];
    if (data instanceof BigInt64Array) data[i] = BigInt(Math.trunc(v));
    else (data as Float64Array)[i] = dtype === 'bool' ? (v ? 1 : 0) : v;
  }
  if (typeof values !== 'number' && values.length !== n)
    throw new Error(`tensorData: ${values.length} values for shape [${shape}] (${n} elements)`);
  return { dtype, shape, data };
}

/** Reads element i of a TensorData as a JavaScript number. */
export function elementAt(t: TensorData, i: number): number {
  const v = t.data[i];
  return typeof v === 'bigint' ? Number(v) : v;
}

export function toNumbers(t: TensorData): number[] {
  const out = new Array<number>(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = elementAt(t, i);
  return out;
}
