import '../ops';
export { grad, type GradOptions } from './grad';
export { defineGrad, gradRule, type GradRule } from '../ops/grad-rules';
