/**
 * Naming conventions of compiled programs. A program output named `new.<input>` replaces the
 * runner-held state of input `<input>` after each run, so parameters and optimizer moments stay
 * inside the runner between steps.
 */
export const names = {
  param: (p: string) => `param.${p}`,
  m: (p: string) => `adam_m.${p}`,
  v: (p: string) => `adam_v.${p}`,
  grad: (p: string) => `grad.${p}`,
  batch: (b: string) => `batch.${b}`,
  step: 'step',
  lr: 'lr',
  losses: 'losses',
  loss: 'loss',
  gradNorms: 'grad_norms',
  metric: (m: string) => `metric.${m}`,
  updated: (input: string) => `new.${input}`,
};

export const UPDATED_PREFIX = 'new.';
