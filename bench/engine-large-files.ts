/**
 * Manual check past the 2 GiB limits (needs ~7 GB of free memory and disk in the temp folder):
 *   npx tsx bench/engine-large-files.ts
 * 1. A graph with a 2.16 GB initializer cannot be one protobuf; Runner.loadGraph writes it with
 *    external data, onnxruntime loads it from the path, and a Gather reads rows at both ends.
 * 2. A 2.24 GB safetensors tensor is written and read back in slices.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../engine/graph';
import * as op from '../engine/ops';
import { serializeModel } from '../engine/onnx';
import { Runner } from '../engine/runner';
import { fromTensorData, readSafetensors, writeSafetensors } from '../engine/safetensors';

const load0 = loadavg()[0];
const dir = await mkdtemp(join(tmpdir(), 'engine-large-'));
try {
  {
    const rows = 33_000;
    const cols = 16_384;
    const w = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) w[i * cols + (i % cols)] = i + 1;
    const g = new Graph();
    const idx = g.input('i', 'int64', [2]);
    const W = g.initializer('w', { dtype: 'float32', shape: [rows, cols], data: w });
    g.output('y', op.reduceSum(op.gather(W, idx, 0), [1]));
    try {
      serializeModel(g);
      throw new Error('serializeModel accepted a model past the protobuf limit');
    } catch (e) {
      console.log(`serializeModel refuses: ${(e as Error).message}`);
    }
    const runner = new Runner();
    const t0 = performance.now();
    await runner.loadGraph('big', g, { dir });
    const ms = performance.now() - t0;
    const out = await runner.run('big', { i: { dtype: 'int64', shape: [2], data: BigInt64Array.from([5n, 32_999n]) } });
    const y = [...(out.outputs.y.data as Float32Array)];
    console.log(
      `external data: ${(await stat(join(dir, 'big.onnx'))).size} B model + ${(await stat(join(dir, 'big.onnx.data'))).size} B data, ` +
        `saved and loaded in ${(ms / 1000).toFixed(1)} s; rows 5 and 32999 sum to [${y}] (expected [6, 33000])`,
    );
    if (y[0] !== 6 || y[1] !== 33_000) throw new Error('wrong values');
    await runner.close();
  }
  {
    const n = 560_000_000;
    const a = new Float32Array(n);
    a[0] = 1;
    a[2 ** 29 + 7] = 3;
    a[n - 1] = 2;
    const p = join(dir, 'big.safetensors');
    await writeSafetensors(p, {
      big: fromTensorData({ dtype: 'float32', shape: [n], data: a }),
      small: fromTensorData({ dtype: 'float32', shape: [2], data: Float32Array.from([4, 5]) }),
    });
    const r = await readSafetensors(p);
    const b = new Float32Array(r.tensors.get('big')!.bytes.buffer);
    const ok = b.length === n && b[0] === 1 && b[2 ** 29 + 7] === 3 && b[n - 1] === 2;
    console.log(
      `safetensors: ${(await stat(p)).size} B file written and read back: ${ok ? 'values match' : 'MISMATCH'}`,
    );
    if (!ok) throw new Error('safetensors mismatch');
  }
} finally {
  await rm(dir, { recursive: true });
}
// It times nothing, but a run on a loaded machine can still run out of memory or disk.
console.log(`load average: ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
