import { mkdir, open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type Attr, type Graph, type Node, type Tensor, type TensorData, ONNX_DTYPE } from '../graph';
import { subgraphsOf } from '../graph/subgraph';
import { ProtoWriter } from './protobuf';

/** The ONNX opset programs are built for (uniform Reduce* with axes as an input; Split num_outputs). */
export const OPSET = 18;
export const IR_VERSION = 8;
/** Protobuf messages cannot exceed 2 GiB. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface SaveOptions {
  /** Move initializers to an external file once their total size passes this (default 1.5 GiB). */
  externalDataThreshold?: number;
  /** Smallest initializer moved to external data (default 1 KiB). */
  externalMinBytes?: number;
}

interface ExternalSink {
  location: string;
  chunks: Uint8Array[];
  length: number;
  minBytes: number;
}

const ALIGN = 4096;

function rawBytes(t: TensorData): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function tensorProto(name: string, t: TensorData, ext?: ExternalSink): ProtoWriter {
  const w = new ProtoWriter();
  if (t.shape.length) w.packedInts(1, t.shape);
  w.int(2, ONNX_DTYPE[t.dtype]);
  if (name) w.string(8, name);
  const raw = rawBytes(t);
  if (ext && raw.length >= ext.minBytes) {
    const pad = (ALIGN - (ext.length % ALIGN)) % ALIGN;
    if (pad) ext.chunks.push(new Uint8Array(pad));
    const offset = ext.length + pad;
    ext.chunks.push(raw);
    ext.length = offset + raw.length;
    for (const [k, v] of [
      ['location', ext.location],
      ['offset', String(offset)],
      ['length', String(raw.length)],
    ]) {
      const e = new ProtoWriter();
      e.string(1, k);
      e.string(2, v);
      w.message(13, e);
    }
    w.int(14, 1);
  } else w.bytes(9, raw);
  return w;
}

function valueInfo(t: Tensor): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of t.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else if (typeof d === 'string') dim.string(2, d);
    shape.message(1, dim);
  }
  const tt = new ProtoWriter();
  tt.int(1, ONNX_DTYPE[t.dtype]);
  tt.message(2, shape);
  const type = new ProtoWriter();
  type.message(1, tt);
  const vi = new ProtoWriter();
  vi.string(1, t.name);
  vi.message(2, type);
  return vi;
}

const ATTR_TYPE: Record<Attr['kind'], number> = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
};

function attribute(name: string, a: Attr, live: Map<Graph, Node[]>, ext?: ExternalSink): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name);
  w.int(20, ATTR_TYPE[a.kind]);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, tensorProto('', a.value));
      break;
    case 'graph':
      w.message(6, graphProto(a.value, live, ext));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  return w;
}

function nodeProto(n: Node, live: Map<Graph, Node[]>, ext?: ExternalSink): ProtoWriter {
  const w = new ProtoWriter();
  let last = n.inputs.length;
  while (last > 0 && !n.inputs[last - 1]) last--;
  for (let i = 0; i < last; i++) w.string(1, n.inputs[i]?.name ?? '');
  for (const o of n.outputs) w.string(2, o.name);
  w.string(3, n.name);
  w.string(4, n.op);
  if (n.domain) w.string(7, n.domain);
  for (const [k, a] of Object.entries(n.attrs)) w.message(5, attribute(k, a, live, ext));
  return w;
}

/**
 * Dead-code elimination: keeps the nodes that some graph output depends on, including values read
 * from outer scope by subgraphs. Fills `live` for the graph and every kept subgraph.
 */
function markLive(g: Graph, needed: Set<string>, live: Map<Graph, Node[]>): void {
  for (const o of g.outputs) needed.add(o.name);
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o.name))) continue;
    keep.push(n);
    for (const sub of subgraphsOf(n)) markLive(sub, needed, live);
    for (const t of n.inputs) if (t) needed.add(t.name);
  }
  live.set(g, keep.reverse());
}

function graphProto(g: Graph, live: Map<Graph, Node[]>, ext?: ExternalSink): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of live.get(g) ?? []) w.message(1, nodeProto(n, live, ext));
  w.string(2, g.name);
  for (const [name, t] of g.initializers) w.message(5, tensorProto(name, t, ext));
  for (const t of g.inputs) w.message(11, valueInfo(t));
  for (const t of g.outputs) w.message(12, valueInfo(t));
  return w;
}

function modelProto(g: Graph, ext?: ExternalSink): ProtoWriter {
  if (g.parent) throw new Error('serialize: pass the root graph');
  if (!g.outputs.length) throw new Error('serialize: graph has no outputs');
  const live = new Map<Graph, Node[]>();
  markLive(g, new Set(), live);
  const m = new ProtoWriter();
  m.int(1, IR_VERSION);
  m.string(2, 'rewrite-rl');
  m.string(3, '0.1');
  m.message(7, graphProto(g, live, ext));
  const opset = new ProtoWriter();
  opset.string(1, '');
  opset.int(2, OPSET);
  m.message(8, opset);
  return m;
}

/** Total bytes of initializers in the graph and all subgraphs. */
export function initializerBytes(g: Graph): number {
  let n = 0;
  for (const t of g.initializers.values()) n += t.data.byteLength;
  for (const node of g.nodes) for (const sub of subgraphsOf(node)) n += initializerBytes(sub);
  return n;
}

/** The model as one protobuf buffer (initializers embedded). Throws past the 2 GiB protobuf limit. */
export function serializeModel(g: Graph): Uint8Array {
  const m = modelProto(g);
  if (m.length > PROTOBUF_LIMIT)
    throw new Error(`serialize: model is ${m.length} bytes, past the 2 GiB protobuf limit; use saveModel()`);
  return m.finish();
}

/**
 * Writes the model to `path`; when initializers exceed the threshold they go to `<path>.data`
 * (ONNX external data, 4 KiB aligned) and the model must be loaded from the path.
 */
export async function saveModel(
  g: Graph,
  path: string,
  opts: SaveOptions = {},
): Promise<{ path: string; dataPath?: string }> {
  const threshold = opts.externalDataThreshold ?? 1.5 * 2 ** 30;
  const external = initializerBytes(g) > threshold;
  const ext: ExternalSink | undefined = external
    ? { location: `${basename(path)}.data`, chunks: [], length: 0, minBytes: opts.externalMinBytes ?? 1024 }
    : undefined;
  const m = modelProto(g, ext);
  if (m.length > PROTOBUF_LIMIT) throw new Error(`saveModel: graph proto is ${m.length} bytes even with external data`);
  await mkdir(dirname(path), { recursive: true });
  await writeChunks(path, m.parts());
  if (!ext) return { path };
  await writeChunks(`${path}.data`, ext.chunks);
  return { path, dataPath: `${path}.data` };
}

async function writeChunks(path: string, chunks: Uint8Array[]): Promise<void> {
  const fh = await open(path, 'w');
  try {
    // One write() takes at most 2 GiB - 1 bytes: write large tensors in slices.
    const SLICE = 2 ** 30;
    for (const c of chunks)
      for (let o = 0; o < c.length; o += SLICE) await fh.write(c.subarray(o, Math.min(c.length, o + SLICE)));
  } finally {
    await fh.close();
  }
}
