export { names, UPDATED_PREFIX } from './names';
export {
  compileTrainStep,
  compileGradients,
  initialOptimizerState,
  type TrainStepSpec,
  type ParamSpec,
  type BatchSpec,
  type LossFn,
  type LossContext,
  type OptimizerSpec,
  type CompiledProgram,
} from './train-step';
