/**
 * rewrite-rl engine: build ONNX programs (forward, loss, backward, optimizer) in TypeScript and run
 * them with onnxruntime-node off the caller's event loop.
 */
export * from './graph';
export * as op from './ops';
export { grad, defineGrad, type GradRule, type GradOptions } from './autodiff';
export * as nn from './nn';
export { OPSET, serializeModel, saveModel, initializerBytes, type SaveOptions } from './onnx';
