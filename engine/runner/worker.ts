import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { TensorData } from '../graph';
import { UPDATED_PREFIX } from '../program/names';
import type { LoadResult, Reply, Request, RunResult } from './protocol';
import { createSession, fromOrt, toOrt } from './session';

/**
 * The device worker (a worker thread, or a child process): owns onnxruntime sessions and the state
 * tensors (parameters, optimizer moments) between runs. onnxruntime's run() blocks this thread,
 * never the caller's.
 */
// Lower this thread's priority before onnxruntime creates its thread pools (they inherit it).
const nice = Number(parentPort ? (workerData as { nice?: number } | undefined)?.nice : process.argv[2]) || 0;
if (nice) {
  try {
    setPriority(nice);
  } catch {
    // not permitted here: run at normal priority
  }
}

const sessions = new Map<string, ort.InferenceSession>();
const state = new Map<string, TensorData>();

function transferList(ts: Iterable<TensorData>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of ts) seen.add(t.data.buffer as ArrayBuffer);
  return [...seen];
}

/** True when the tensor's view spans its whole buffer, so transferring it detaches nothing else. */
function ownsBuffer(t: TensorData): boolean {
  return t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength;
}

/** A private copy whose buffer can be transferred without detaching anything else. */
function own(t: TensorData): TensorData {
  return { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() };
}

async function handle(req: Request): Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  switch (req.type) {
    case 'load': {
      const t0 = performance.now();
      const old = sessions.get(req.program);
      if (old) await old.release();
      const s = await createSession(req.model, req.options);
      sessions.set(req.program, s);
      const r: LoadResult = { inputs: [...s.inputNames], outputs: [...s.outputNames], loadMs: performance.now() - t0 };
      return { result: r };
    }
    case 'unload': {
      await sessions.get(req.program)?.release();
      sessions.delete(req.program);
      return { result: null };
    }
    case 'run': {
      const s = sessions.get(req.program);
      if (!s) throw new Error(`program '${req.program}' is not loaded`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of s.inputNames) {
        const t = req.feeds[name] ?? state.get(name);
        if (!t) throw new Error(`program '${req.program}': input '${name}' was neither fed nor held as state`);
        feeds[name] = toOrt(t);
      }
      for (const name of Object.keys(req.feeds))
        if (!s.inputNames.includes(name)) throw new Error(`program '${req.program}' has no input '${name}'`);
      const t0 = performance.now();
      const raw = await s.run(feeds);
      const runMs = performance.now() - t0;
      const outputs: Record<string, TensorData> = {};
      let outputBytes = 0;
      for (const [name, v] of Object.entries(raw)) {
        const t = fromOrt(v as ort.Tensor);
        outputBytes += t.data.byteLength;
        if (name.startsWith(UPDATED_PREFIX)) state.set(name.slice(UPDATED_PREFIX.length), t);
        if (req.fetch ? req.fetch.includes(name) : !name.startsWith(UPDATED_PREFIX))
          outputs[name] = name.startsWith(UPDATED_PREFIX) || !ownsBuffer(t) ? own(t) : t;
      }
      const r: RunResult = { outputs, runMs, outputBytes };
      return { result: r, transfer: transferList(Object.values(outputs)) };
    }
    case 'setState': {
      for (const [k, v] of Object.entries(req.tensors)) state.set(k, v);
      return { result: null };
    }
    case 'getState': {
      const out: Record<string, TensorData> = {};
      for (const k of req.names ?? state.keys()) {
        const t = state.get(k);
        if (!t) throw new Error(`no state tensor '${k}'`);
        out[k] = own(t);
      }
      return { result: out, transfer: transferList(Object.values(out)) };
    }
    case 'dropState': {
      if (!req.names) state.clear();
      else for (const k of req.names) state.delete(k);
      return { result: null };
    }
    case 'shutdown': {
      for (const s of sessions.values()) await s.release();
      sessions.clear();
      state.clear();
      return { result: null };
    }
  }
}

/** Messages in and out: the worker-thread port, or the IPC channel of a child process. */
const port = parentPort
  ? {
      on: (f: (m: { id: number; req: Request }) => void) => parentPort!.on('message', f),
      send: (m: Reply, transfer: ArrayBuffer[]) => parentPort!.postMessage(m, transfer),
      exit: () => parentPort!.close(),
    }
  : {
      on: (f: (m: { id: number; req: Request }) => void) => process.on('message', f),
      send: (m: Reply) => process.send!(m),
      exit: () => process.disconnect(),
    };
if (!parentPort && !process.send)
  throw new Error('runner worker: start it as a worker thread or a forked child process');

// Requests run one at a time, in order: a device does one thing at a time.
let queue: Promise<void> = Promise.resolve();
port.on((msg: { id: number; req: Request }) => {
  queue = queue.then(async () => {
    let reply: Reply;
    let transfer: ArrayBuffer[] = [];
    try {
      const r = await handle(msg.req);
      reply = { id: msg.id, ok: true, result: r.result };
      transfer = r.transfer ?? [];
    } catch (e) {
      const err = e as Error;
      reply = { id: msg.id, ok: false, error: { message: err.message, stack: err.stack } };
    }
    port.send(reply, transfer);
    if (msg.req.type === 'shutdown') port.exit();
  });
});
port.send({ id: 0, ok: true, result: 'ready' }, []);
