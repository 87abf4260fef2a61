import { Worker } from 'node:worker_threads';
import type { TensorData } from '../graph';
import type { LoadResult, Reply, Request, RunResult } from './protocol';
import { type SessionOptions, executionProviders } from './session';

export interface RunnerOptions extends SessionOptions {
  /** Name for errors and logs (default: the device). */
  name?: string;
}

export interface RunOptions {
  /** Output names to return (default: every output except `new.*` state updates). */
  fetch?: string[];
  /** Hand the feed buffers to the worker instead of copying them (they become detached here). */
  transferFeeds?: boolean;
}

/**
 * A device runner: one worker thread that owns onnxruntime sessions and the state tensors between
 * runs. Every call returns a promise; onnxruntime's blocking run() happens on the worker thread, so
 * the caller's event loop stays free (heartbeats, polling, cancellation). Calls execute in order.
 */
export class Runner {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private dead?: Error;
  private readonly ready: Promise<void>;
  readonly name: string;

  constructor(readonly options: RunnerOptions = {}) {
    executionProviders(options.device); // fail fast on an unavailable device
    this.name = options.name ?? options.device ?? 'cpu';
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { name: `runner:${this.name}` });
    this.ready = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve: () => resolve(), reject });
    });
    this.ready.catch(() => undefined); // surfaced by the first call instead
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.result);
      else {
        const e = new Error(`runner ${this.name}: ${r.error.message}`);
        if (r.error.stack) e.stack = `${e.message}\n(worker) ${r.error.stack}`;
        p.reject(e);
      }
    });
    const fail = (e: Error) => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`runner ${this.name}: worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`runner ${this.name}: worker exited (code ${code})`)));
  }

  private async call<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    await this.ready;
    if (this.dead) throw this.dead;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, req }, transfer);
    });
  }

  /** Loads (or replaces) a program from ONNX bytes or a model path (needed with external data). */
  load(program: string, model: Uint8Array | string, options: SessionOptions = {}): Promise<LoadResult> {
    const { name: _n, ...base } = this.options;
    return this.call({ type: 'load', program, model, options: { ...base, ...options } });
  }

  unload(program: string): Promise<void> {
    return this.call({ type: 'unload', program });
  }

  /**
   * Runs a program. Inputs not in `feeds` come from the runner's state; outputs named `new.<x>`
   * replace state `<x>`. Returned buffers are transferred from the worker, not copied.
   */
  run(program: string, feeds: Record<string, TensorData> = {}, opts: RunOptions = {}): Promise<RunResult> {
    const transfer = opts.transferFeeds ? Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer) : [];
    return this.call({ type: 'run', program, feeds, fetch: opts.fetch }, transfer);
  }

  /** Stores tensors in the runner's state (copied). */
  setState(tensors: Record<string, TensorData>): Promise<void> {
    return this.call({ type: 'setState', tensors });
  }

  /** Copies of state tensors (all when `names` is omitted). */
  getState(names?: string[]): Promise<Record<string, TensorData>> {
    return this.call({ type: 'getState', names });
  }

  dropState(names?: string[]): Promise<void> {
    return this.call({ type: 'dropState', names });
  }

  /** Stops the worker. A run in progress finishes its native call first; pending calls are rejected. */
  async close(): Promise<void> {
    if (this.dead) return;
    this.dead = new Error(`runner ${this.name} is closed`);
    await this.worker.terminate();
  }
}
