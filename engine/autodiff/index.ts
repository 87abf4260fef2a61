import '../ops';
export { grad, type GradOptions } from './grad';
export { defineComposite, defineGrad, gradRule, type GradRule } from '../ops/grad-rules';
