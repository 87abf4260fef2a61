/**
 * An in-process stand-in for engine/runner's Runner that loads every program with onnxruntime's
 * per-op profiler on (benchmarks only: the real Runner runs in a worker and never profiles). It keeps
 * state tensors like the worker does (`new.<x>` outputs replace state `<x>`), so the programs' own
 * classes (GenerateProgram, TrainProgram) run on it unchanged.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { TensorData } from '../engine/graph';
import type { Runner, SessionOptions } from '../engine/runner';
import { fromOrt, toOrt } from '../engine/runner';

export interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; provider?: string; input_type_shape?: Record<string, number[]>[] };
}

export class ProfilingRunner {
  private readonly sessions = new Map<string, ort.InferenceSession>();
  private readonly state = new Map<string, TensorData>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'ort-profile-'));
  constructor(private readonly threads: number) {}

  asRunner(): Runner {
    return this as unknown as Runner;
  }

  /**
   * Loads with the session options the program asks for, as the real Runner does: a train step's
   * memory pattern is off (TrainProgram), and profiling it on moves time around (the forward's
   * elementwise kernels ran 2-3x slower under it).
   */
  async load(program: string, model: Uint8Array | string, opts: SessionOptions = {}): Promise<void> {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: this.threads,
      ...(opts.memoryPattern === false ? { enableMemPattern: false } : {}),
      enableProfiling: true,
      profileFilePrefix: join(this.dir, program.replace(/[^\w.-]/g, '_')),
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    };
    const s =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
    this.sessions.set(program, s);
  }

  async run(program: string, feeds: Record<string, TensorData>) {
    const s = this.sessions.get(program);
    if (!s) throw new Error(`program '${program}' is not loaded`);
    const f: Record<string, ort.Tensor> = {};
    for (const name of s.inputNames) {
      const t = feeds[name] ?? this.state.get(name);
      if (!t) throw new Error(`program '${program}': no input '${name}'`);
      f[name] = toOrt(t);
    }
    const t0 = performance.now();
    const raw = await s.run(f);
    const runMs = performance.now() - t0;
    const outputs: Record<string, TensorData> = {};
    for (const [name, v] of Object.entries(raw)) {
      const t = fromOrt(v as ort.Tensor);
      if (name.startsWith('new.')) this.state.set(name.slice(4), t);
      else outputs[name] = t;
    }
    return { outputs, runMs, outputBytes: 0 };
  }

  async setState(tensors: Record<string, TensorData>): Promise<void> {
    for (const [k, v] of Object.entries(tensors)) this.state.set(k, v);
  }

  async getState(names?: string[]): Promise<Record<string, TensorData>> {
    const out: Record<string, TensorData> = {};
    for (const k of names ?? this.state.keys()) out[k] = this.state.get(k)!;
    return out;
  }

  /**
   * Ends profiling of a program and returns its node events from its LAST run only (warm-up runs
   * excluded).
   */
  async profile(program: string): Promise<ProfileEvent[]> {
    const s = this.sessions.get(program)!;
    s.endProfiling();
    await s.release();
    this.sessions.delete(program);
    const prefix = program.replace(/[^\w.-]/g, '_');
    const file = readdirSync(this.dir).find((f) => f.startsWith(prefix + '_') && f.endsWith('.json'));
    if (!file) throw new Error(`no profile written for ${program} in ${this.dir}`);
    const ev = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as ProfileEvent[];
    const runs = ev.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    const last = runs[runs.length - 1];
    return ev.filter((e) => e.cat === 'Node' && e.ts >= last.ts && e.ts <= last.ts + last.dur);
  }
}

/**
 * Per-op-type tables of node kernel times (total ms, share of the scope's summed kernel time, calls):
 * one for the nodes outside control flow, one per Loop (its body's nodes, every iteration), and the
 * K slowest nodes of each scope.
 */
export function profileTable(events: ProfileEvent[], top = 20, byNode = 0): string {
  const kern = events.filter((e) => e.name.endsWith('_kernel_time'));
  const control = new Set(['Loop', 'If', 'Scan']);
  const loops = kern.filter((e) => e.args?.op_name === 'Loop');
  const scopes: [string, ProfileEvent[]][] = [
    ['outside control flow', []],
    ...loops.map((l): [string, ProfileEvent[]] => [
      `inside Loop ${l.name.replace(/_kernel_time$/, '')} (${(l.dur / 1000).toFixed(1)} ms in all)`,
      [],
    ]),
  ];
  for (const e of kern) {
    // Control-flow nodes contain their bodies' nodes: only those count.
    if (control.has(e.args?.op_name ?? '')) continue;
    const i = loops.findIndex((l) => e.ts >= l.ts && e.ts + e.dur <= l.ts + l.dur);
    scopes[i + 1][1].push(e);
  }
  const out: string[] = [];
  for (const [scope, evs] of scopes) {
    if (!evs.length) continue;
    const byType = new Map<string, { ms: number; n: number }>();
    let total = 0;
    for (const e of evs) {
      const t = e.args?.op_name ?? '?';
      const ms = e.dur / 1000;
      total += ms;
      const r = byType.get(t) ?? { ms: 0, n: 0 };
      r.ms += ms;
      r.n++;
      byType.set(t, r);
    }
    out.push(`\n${scope}: summed kernel time ${total.toFixed(1)} ms`);
    out.push('op type              ms   share  calls');
    for (const [t, r] of [...byType].sort((a, b) => b[1].ms - a[1].ms).slice(0, top))
      out.push(
        `${t.padEnd(16)} ${r.ms.toFixed(1).padStart(7)} ${((100 * r.ms) / total).toFixed(1).padStart(6)}% ${String(r.n).padStart(6)}`,
      );
    if (!byNode) continue;
    const bn = new Map<string, { ms: number; n: number; t: string; shapes: string }>();
    for (const e of evs) {
      const k = e.name.replace(/_kernel_time$/, '');
      const shapes = (e.args?.input_type_shape ?? []).map((x) => `[${Object.values(x)[0]?.join(',') ?? ''}]`).join(' ');
      const r = bn.get(k) ?? { ms: 0, n: 0, t: e.args?.op_name ?? '?', shapes };
      r.ms += e.dur / 1000;
      r.n++;
      bn.set(k, r);
    }
    out.push(`top ${byNode} nodes:`);
    for (const [k, r] of [...bn].sort((a, b) => b[1].ms - a[1].ms).slice(0, byNode))
      out.push(
        `${r.ms.toFixed(1).padStart(7)} ms ${((100 * r.ms) / total).toFixed(1).padStart(5)}% x${String(r.n).padEnd(5)} ${r.t.padEnd(14)} ${k.slice(0, 40).padEnd(40)} ${r.shapes}`,
      );
  }
  return out.join('\n');
}
