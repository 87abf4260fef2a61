import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TensorData } from '../../../engine/graph';
import { readSafetensors, toTensorData } from '../../../engine/safetensors';

export const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'fixtures', 'hf');

export async function expected(dir: string): Promise<Record<string, TensorData>> {
  const { tensors } = await readSafetensors(join(FIXTURES, dir, 'expected.safetensors'));
  const out: Record<string, TensorData> = {};
  for (const [k, v] of tensors) out[k] = toTensorData(v, k);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, mask?: (i: number) => boolean): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (!mask || mask(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function toF32Mask(t: TensorData): TensorData {
  return { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data as BigInt64Array, Number) };
}
