export { buildForwardProgram, type ForwardProgramOptions } from './forward';
export { buildScoreProgram, ScoreProgram, type ScoreProgramOptions, type ScoreItem, type ScoreResult } from './score';
export {
  buildGenerateProgram,
  sampleToken,
  finishRow,
  GenerateProgram,
  type GenerateProgramOptions,
  type GenerateRequest,
  type GenerateOptions,
  type Generation,
} from './generate';
export {
  trainStepSpec,
  trainableParams,
  TrainProgram,
  type TrainProgramOptions,
  type GrpoOptions,
  type SftExample,
  type GrpoExample,
  type TrainStepResult,
} from './train';
export { grpoLoss, type GrpoLossInputs, type GrpoLoss } from './grpo-loss';
export { samplingNoise, noiseAt } from './noise';
export { padBatch, asParamState, type ProgramModel, type PaddedBatch } from './common';
