export type Schedule = 'constant' | 'linear' | 'cosine';

/** Learning rate at optimizer step `step` (0-based): linear warmup, then constant, linear or cosine decay to 0. */
export function learningRateAt(
  step: number,
  o: { learningRate: number; warmupSteps: number; totalSteps: number; schedule: Schedule },
): number {
  if (step < o.warmupSteps) return (o.learningRate * (step + 1)) / o.warmupSteps;
  if (o.schedule === 'constant') return o.learningRate;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return o.schedule === 'linear'
    ? o.learningRate * (1 - progress)
    : o.learningRate * 0.5 * (1 + Math.cos(Math.PI * progress));
}
