// The training loop shared by SFT, pretraining and the GRPO update: batches, the learning-rate
// schedule, micro-batching, trainer state save and restore. Plain functions over a compiled train
// program (engine/programs); activities call them and add only the store and the heartbeats.
export { LengthGroupedBatches } from './batches';
export { CHECKPOINT_FILE, LOG_FILE, loadCheckpoint, saveCheckpoint, type Checkpoint, type StepLog } from './checkpoint';
export { microBatches, trainLoop, type TrainLoopOptions, type TrainLoopResult, type TrainProgress } from './loop';
export { learningRateAt, type Schedule } from './schedule';
