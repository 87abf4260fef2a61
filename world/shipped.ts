// The backbones the repository ships (world/shipped/<recipe>-seed<seed>/): pretrained once by the
// project, so every machine starts from the same weights (onnxruntime's CPU kernels differ by CPU, so
// pretraining the same recipe elsewhere gives another backbone) and skips the pretraining.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ShippedManifest {
  recipe: string;
  seed: number;
  /** The key of the world data it was pretrained on (activities/world.ts). */
  worldKey: string;
  pretraining: { steps: number; examples: number; firstLoss: number; finalLoss: number };
  /** sha256 of every file of the model folder. */
  files: Record<string, string>;
}

export const SHIPPED_DIR = join(import.meta.dirname, 'shipped');

export function findShippedBackbone(
  recipe: string,
  seed: number,
  root = SHIPPED_DIR,
): { dir: string; manifest: ShippedManifest } | undefined {
  const dir = join(root, `${recipe}-seed${seed}`);
  const file = join(dir, 'shipped.json');
  if (!existsSync(file)) return undefined;
  return { dir, manifest: JSON.parse(readFileSync(file, 'utf8')) as ShippedManifest };
}
