import { open, rename, unlink } from 'node:fs/promises';
import { ModelFileError } from './errors';
import type { DType, TensorData } from './graph';

/**
 * safetensors reader and writer. Layout: u64 little-endian header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the data.
 * Every header is checked against dtype sizes, shapes, offsets and the file length before any tensor
 * is read, so a truncated or lying file is a clear error and never an unbounded allocation.
 */
export type StDType =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'U64' | 'BOOL';

export const ST_SIZE: Record<StDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  BOOL: 1,
};

/** A tensor as stored: dtype, shape and raw little-endian bytes. */
export interface StTensor {
  dtype: StDType;
  shape: number[];
  bytes: Uint8Array;
}

export interface StHeaderEntry {
  dtype: StDType;
  shape: number[];
  offsets: [number, number];
}

export interface StHeader {
  entries: Map<string, StHeaderEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

/** Largest header accepted (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One read()/write() moves at most 2 GiB - 1 bytes: large tensors go in slices. */
const IO_SLICE = 2 ** 30;

const TO_ST: Record<DType, StDType> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  int64: 'I64',
  int32: 'I32',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

function fail(where: string, msg: string): never {
  throw new ModelFileError(`safetensors ${where}: ${msg}`);
}

/** Validates a parsed header against the data section length; returns the entries. */
export function validateHeader(json: unknown, dataLength: number, where: string): Omit<StHeader, 'dataStart'> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(where, 'header is not a JSON object');
  const entries = new Map<string, StHeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>))
        if (typeof v !== 'string') fail(where, `__metadata__.${k} is not a string`);
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(where, `tensor '${name}': entry is not an object`);
    // own keys only: 'toString' or '__proto__' are not dtypes
    if (typeof e.dtype !== 'string' || !Object.hasOwn(ST_SIZE, e.dtype))
      fail(where, `tensor '${name}': unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as StDType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(where, `tensor '${name}': shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    const shape = e.shape as number[];
    const o = e.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0) || o[0] > o[1])
      fail(where, `tensor '${name}': data_offsets ${JSON.stringify(o)} are not [begin, end] with 0 <= begin <= end`);
    const [b, end] = o as [number, number];
    let n = ST_SIZE[dtype];
    for (const d of shape) n *= d;
    if (!Number.isSafeInteger(n) || n !== end - b)
      fail(
        where,
        `tensor '${name}': ${dtype}${JSON.stringify(shape)} needs ${n} bytes but data_offsets span ${end - b}`,
      );
    if (end > dataLength)
      fail(
        where,
        `tensor '${name}': data_offsets end ${end} is past the data section (${dataLength} bytes; file truncated?)`,
      );
    entries.set(name, { dtype, shape, offsets: [b, end] });
  }
  // The data section must be covered exactly, without holes or overlaps.
  const sorted = [...entries.entries()].sort((a, b) => a[1].offsets[0] - b[1].offsets[0]);
  let pos = 0;
  for (const [name, e] of sorted) {
    if (e.offsets[0] !== pos)
      fail(where, `tensor '${name}' starts at ${e.offsets[0]}, expected ${pos} (hole or overlap)`);
    pos = e.offsets[1];
  }
  if (pos !== dataLength) fail(where, `tensors cover ${pos} bytes but the data section has ${dataLength}`);
  return { entries, metadata };
}

function parseHeaderBytes(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    fail(where, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
}

function headerLength(prefix: Uint8Array, fileLength: number, where: string): number {
  if (fileLength < 8) fail(where, `file has ${fileLength} bytes, shorter than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(where, `header length ${n} exceeds ${MAX_HEADER_BYTES}`);
  if (Number(n) > fileLength - 8) fail(where, `header length ${n} is past the end of the file (${fileLength} bytes)`);
  return Number(n);
}

/** Parses a whole safetensors buffer (tensors are views into it). */
export function parseSafetensors(
  buf: Uint8Array,
  where = '<buffer>',
): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  const n = headerLength(buf, buf.length, where);
  const { entries, metadata } = validateHeader(
    parseHeaderBytes(buf.subarray(8, 8 + n), where),
    buf.length - 8 - n,
    where,
  );
  const tensors = new Map<string, StTensor>();
  for (const [name, e] of entries)
    tensors.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      bytes: buf.subarray(8 + n + e.offsets[0], 8 + n + e.offsets[1]),
    });
  return { tensors, metadata };
}

/** Reads and validates only the header of a file. */
export async function readSafetensorsHeader(path: string): Promise<StHeader> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const prefix = new Uint8Array(8);
    await fh.read(prefix, 0, Math.min(8, size), 0);
    const n = headerLength(prefix, size, path);
    const hb = new Uint8Array(n);
    const { bytesRead } = await fh.read(hb, 0, n, 8);
    if (bytesRead !== n) fail(path, `short read of the header (${bytesRead} of ${n} bytes)`);
    const h = validateHeader(parseHeaderBytes(hb, path), size - 8 - n, path);
    return { ...h, dataStart: 8 + n };
  } finally {
    await fh.close();
  }
}

/** Reads a safetensors file (all tensors, or only `names`), each into its own aligned buffer. */
export async function readSafetensors(
  path: string,
  names?: string[],
): Promise<{ tensors: Map<string, StTensor>; metadata: Record<string, string> }> {
  const h = await readSafetensorsHeader(path);
  const fh = await open(path, 'r');
  try {
    const tensors = new Map<string, StTensor>();
    for (const name of names ?? h.entries.keys()) {
      const e = h.entries.get(name);
      if (!e) fail(path, `no tensor named '${name}'`);
      const len = e.offsets[1] - e.offsets[0];
      const bytes = new Uint8Array(new ArrayBuffer(len));
      for (let o = 0; o < len;) {
        const want = Math.min(IO_SLICE, len - o);
        const { bytesRead } = await fh.read(bytes, o, want, h.dataStart + e.offsets[0] + o);
        if (bytesRead === 0) fail(path, `tensor '${name}': short read (${o} of ${len} bytes)`);
        o += bytesRead;
      }
      tensors.set(name, { dtype: e.dtype, shape: e.shape, bytes });
    }
    return { tensors, metadata: h.metadata };
  } finally {
    await fh.close();
  }
}

/** The 8-byte length and the padded JSON header for tensors laid out in insertion order. */
function headerBytes(
  tensors: Record<string, StTensor>,
  metadata?: Record<string, string>,
): { head: Uint8Array; dataLength: number } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let pos = 0;
  for (const [name, t] of Object.entries(tensors)) {
    let n = ST_SIZE[t.dtype];
    for (const d of t.shape) n *= d;
    if (n !== t.bytes.length)
      throw new Error(`safetensors write: tensor '${name}' has ${t.bytes.length} bytes, expected ${n}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + n] };
    pos += n;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  if (hb.length % 8) {
    json += ' '.repeat(8 - (hb.length % 8));
    hb = enc.encode(json);
  }
  const head = new Uint8Array(8 + hb.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(hb.length), true);
  head.set(hb, 8);
  return { head, dataLength: pos };
}

/** Serializes tensors (insertion order) and string metadata into one buffer. */
export function serializeSafetensors(tensors: Record<string, StTensor>, metadata?: Record<string, string>): Uint8Array {
  const { head, dataLength } = headerBytes(tensors, metadata);
  const out = new Uint8Array(head.length + dataLength);
  out.set(head, 0);
  let o = head.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, o);
    o += t.bytes.length;
  }
  return out;
}

/** Writes atomically: a temporary file in the same folder, then a rename. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, StTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  try {
    const { head } = headerBytes(tensors, metadata);
    await fh.write(head);
    for (const t of Object.values(tensors))
      for (let o = 0; o < t.bytes.length; o += IO_SLICE)
        await fh.write(t.bytes.subarray(o, Math.min(t.bytes.length, o + IO_SLICE)));
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

export function fromTensorData(t: TensorData): StTensor {
  return {
    dtype: TO_ST[t.dtype],
    shape: [...t.shape],
    bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

/** bfloat16 bits to float32 (exact). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

/**
 * A stored tensor as engine TensorData (copied into an aligned buffer). BF16 becomes float32 (exact);
 * I16/U16/U32/U64 are not engine dtypes and are rejected.
 */
export function toTensorData(t: StTensor, name = 'tensor'): TensorData {
  const copy = () => {
    const b = new ArrayBuffer(t.bytes.length);
    new Uint8Array(b).set(t.bytes);
    return b;
  };
  switch (t.dtype) {
    case 'F32':
      return { dtype: 'float32', shape: t.shape, data: new Float32Array(copy()) };
    case 'F64':
      return { dtype: 'float64', shape: t.shape, data: new Float64Array(copy()) };
    case 'F16':
      return { dtype: 'float16', shape: t.shape, data: new Uint16Array(copy()) };
    case 'BF16':
      return { dtype: 'float32', shape: t.shape, data: bf16ToF32(new Uint16Array(copy())) };
    case 'I64':
      return { dtype: 'int64', shape: t.shape, data: new BigInt64Array(copy()) };
    case 'I32':
      return { dtype: 'int32', shape: t.shape, data: new Int32Array(copy()) };
    case 'I8':
      return { dtype: 'int8', shape: t.shape, data: new Int8Array(copy()) };
    case 'U8':
      return { dtype: 'uint8', shape: t.shape, data: new Uint8Array(copy()) };
    case 'BOOL':
      return { dtype: 'bool', shape: t.shape, data: new Uint8Array(copy()) };
    default:
      throw new Error(`safetensors: tensor '${name}' has dtype ${t.dtype}, which the engine does not compute in`);
  }
}
