/**
 * rewrite-rl engine: build ONNX programs (forward, loss, backward, optimizer update) in TypeScript and
 * run them with onnxruntime-node off the caller's event loop. See engine/README.md.
 */
export * from './graph';
export * as op from './ops';
export { grad, defineGrad, type GradRule, type GradOptions } from './autodiff';
export * as nn from './nn';
export * as optim from './optim';
export {
  compileTrainStep,
  compileGradients,
  initialOptimizerState,
  names,
  UPDATED_PREFIX,
  type TrainStepSpec,
  type ParamSpec,
  type BatchSpec,
  type LossFn,
  type LossContext,
  type OptimizerSpec,
  type CompiledProgram,
} from './program';
export { OPSET, serializeModel, saveModel, initializerBytes, type SaveOptions } from './onnx';
export {
  Runner,
  type RunnerOptions,
  type RunOptions,
  type RunResult,
  type LoadResult,
  type SessionOptions,
  createSession,
  runSession,
  executionProviders,
  parseDevice,
} from './runner';
export {
  readSafetensors,
  readSafetensorsHeader,
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
  fromTensorData,
  toTensorData,
  bf16ToF32,
  type StTensor,
  type StDType,
} from './safetensors';
export { Rng, DataOrder, type DataPosition } from './rng';
export { saveTrainerState, loadTrainerState, type TrainerState, TRAINER_STATE_FORMAT } from './trainer-state';
// Decoder family, LoRA, tokenizers, programs (issue 4).
export * as model from './model';
export * as lora from './lora';
export { TextTokenizer, byteLevelTokenizerFiles, type ChatMessage } from './tokenizer';
export * as programs from './programs';
export { saveHFFolder, type SaveHFOptions } from './hf-folder';
