import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Graph, TensorData } from '../graph';
import { initializerBytes, saveModel, serializeModel } from '../onnx';
import type { LoadResult, Reply, Request, RunResult } from './protocol';
import { type SessionOptions, executionProviders } from './session';

export interface RunnerOptions extends SessionOptions {
  /** Name for errors and logs (default: the device). */
  name?: string;
  /**
   * 'thread' (default): a worker thread; outputs come back as transferred buffers (no copy), but a
   * run in progress cannot be interrupted (terminating a thread inside onnxruntime aborts the process).
   * 'process': a child process; outputs are copied through IPC, and kill() stops a run at once.
   */
  isolation?: 'thread' | 'process';
  /**
   * Nice value of the device threads (default 10): onnxruntime's threads then yield to the caller's
   * event loop (heartbeats, polling) whenever both want a core. On Linux the nice value is
   * per thread and inherited by the threads onnxruntime creates; 0 keeps normal priority.
   */
  nice?: number;
}

export interface RunOptions {
  /** Output names to return (default: every output except `new.*` state updates). */
  fetch?: string[];
  /** Hand the feed buffers to a worker thread instead of copying them (they become detached here). */
  transferFeeds?: boolean;
}

interface Channel {
  post(msg: unknown, transfer: ArrayBuffer[]): void;
  kill(): void;
}

/**
 * A device runner: one worker (thread or child process) that owns onnxruntime sessions and the state
 * tensors between runs. Every call returns a promise; onnxruntime's blocking run() happens in the
 * worker, so the caller's event loop stays free (heartbeats, polling, cancellation). Calls execute
 * in order.
 */
export class Runner {
  private readonly channel: Channel;
  private exited!: Promise<void>;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly programs = new Set<string>();
  private dead?: Error;
  private readonly ready: Promise<void>;
  readonly name: string;

  constructor(readonly options: RunnerOptions = {}) {
    executionProviders(options.device); // fail fast on an unavailable device
    this.name = options.name ?? options.device ?? 'cpu';
    this.ready = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve: () => resolve(), reject });
    });
    this.ready.catch(() => undefined); // surfaced by the first call instead
    const onMessage = (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.result);
      else {
        const e = new Error(`runner ${this.name}: ${r.error.message}`);
        if (r.error.stack) e.stack = `${e.message}\n(worker) ${r.error.stack}`;
        p.reject(e);
      }
    };
    const fail = (e: Error) => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    const entry = new URL('./worker-entry.mjs', import.meta.url);
    if ((options.isolation ?? 'thread') === 'thread') {
      const w = new Worker(entry, { name: `runner:${this.name}`, workerData: { nice: options.nice ?? 10 } });
      w.on('message', onMessage);
      w.on('error', (e) => fail(new Error(`runner ${this.name}: worker failed: ${e.message}`)));
      this.exited = new Promise((resolve) =>
        w.on('exit', (code) => {
          fail(new Error(`runner ${this.name}: worker exited (code ${code})`));
          resolve();
        }),
      );
      this.channel = {
        post: (m, transfer) => w.postMessage(m, transfer),
        kill: () => {
          throw new Error(`runner ${this.name}: a worker thread cannot be killed mid-run; use isolation 'process'`);
        },
      };
    } else {
      const c: ChildProcess = fork(fileURLToPath(entry), [String(options.nice ?? 10)], {
        serialization: 'advanced',
        execArgv: [],
        stdio: 'inherit',
      });
      c.on('message', (m) => onMessage(m as Reply));
      c.on('error', (e) => fail(new Error(`runner ${this.name}: process failed: ${e.message}`)));
      this.exited = new Promise((resolve) =>
        c.on('exit', (code, signal) => {
          fail(new Error(`runner ${this.name}: process exited (${signal ?? `code ${code}`})`));
          resolve();
        }),
      );
      this.channel = { post: (m) => c.send(m as object), kill: () => c.kill('SIGKILL') };
    }
  }

  private async call<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) throw this.dead;
    return this.send<T>(req, transfer);
  }

  private async send<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    await this.ready;
    if (this.dead && req.type !== 'shutdown') throw this.dead;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.channel.post({ id, req }, transfer);
    });
  }

  /** Loads (or replaces) a program from ONNX bytes or a model path (needed with external data). */
  async load(
    program: string,
    model: Uint8Array | string,
    options: SessionOptions & { transferModel?: boolean } = {},
  ): Promise<LoadResult> {
    const { name: _n, isolation: _i, nice: _p, ...base } = this.options;
    const { transferModel, ...sessionOptions } = options;
    const transfer = transferModel && typeof model !== 'string' ? [model.buffer as ArrayBuffer] : [];
    // no spinning unless asked, also when a caller passes `spinning: undefined`
    const spinning = sessionOptions.spinning ?? base.spinning ?? false;
    const r = await this.call<LoadResult>(
      { type: 'load', program, model, options: { ...base, ...sessionOptions, spinning } },
      transfer,
    );
    this.programs.add(program);
    return r;
  }

  /** Whether a program of that name is loaded (for callers that cache programs per runner). */
  isLoaded(program: string): boolean {
    return this.programs.has(program);
  }

  /**
   * Serializes a graph and loads it: in memory (the buffer is handed over, not copied) or, when its
   * initializers pass `externalDataThreshold` (default 1.5 GiB, under the 2 GiB protobuf limit), as
   * `<dir>/<program>.onnx` plus external data, loaded from the path.
   */
  async loadGraph(
    program: string,
    graph: Graph,
    options: SessionOptions & { dir?: string; externalDataThreshold?: number } = {},
  ): Promise<LoadResult> {
    const { dir, externalDataThreshold, ...sessionOptions } = options;
    const threshold = externalDataThreshold ?? 1.5 * 2 ** 30;
    if (initializerBytes(graph) <= threshold)
      return this.load(program, serializeModel(graph), { ...sessionOptions, transferModel: true });
    const folder = dir ?? join(tmpdir(), `rewrite-rl-programs-${process.pid}`);
    const { path } = await saveModel(graph, join(folder, `${program.replace(/[^\w.-]/g, '_')}.onnx`), {
      externalDataThreshold: threshold,
    });
    return this.load(program, path, sessionOptions);
  }

  async unload(program: string): Promise<void> {
    this.programs.delete(program);
    await this.call({ type: 'unload', program });
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

  /**
   * Graceful stop: calls already made finish first (a run in progress cannot be interrupted in a
   * worker thread), then the sessions are released and the worker exits.
   */
  async close(): Promise<void> {
    if (this.dead) return;
    const done = this.send({ type: 'shutdown' }).catch(() => undefined);
    this.dead = new Error(`runner ${this.name} is closed`);
    await done;
    await this.exited;
  }

  /**
   * Hard stop for isolation 'process': kills the child at once (a run in progress is abandoned, its
   * promise rejected) and loses the state held in it. Throws for worker threads.
   */
  async kill(): Promise<void> {
    this.channel.kill();
    await this.exited;
  }
}
