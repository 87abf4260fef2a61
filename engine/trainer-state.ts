import type { TensorData } from './graph';
import { type DataPosition } from './rng';
import { fromTensorData, readSafetensors, toTensorData, writeSafetensors } from './safetensors';

/**
 * Everything a training run needs to resume bit-exactly: the runner state of the train-step program
 * (`param.*`, `adam_m.*`, `adam_v.*`, `step`), the data order position and the RNG state.
 */
export interface TrainerState {
  tensors: Record<string, TensorData>;
  dataPosition: DataPosition;
  rng: number[];
  /** Free-form extra metadata (run id, config hash...). */
  meta?: Record<string, string>;
}

export const TRAINER_STATE_FORMAT = 'rewrite-rl/trainer-state@1';

export async function saveTrainerState(path: string, s: TrainerState): Promise<void> {
  const tensors = Object.fromEntries(Object.entries(s.tensors).map(([k, t]) => [k, fromTensorData(t)]));
  await writeSafetensors(path, tensors, {
    ...(s.meta ?? {}),
    format: TRAINER_STATE_FORMAT,
    data_position: JSON.stringify(s.dataPosition),
    rng: JSON.stringify(s.rng),
  });
}

export async function loadTrainerState(path: string): Promise<TrainerState> {
  const { tensors, metadata } = await readSafetensors(path);
  const { format, data_position, rng, ...meta } = metadata;
  if (format !== TRAINER_STATE_FORMAT)
    throw new Error(
      `${path}: not a trainer state (format ${JSON.stringify(format)}, expected ${TRAINER_STATE_FORMAT})`,
    );
  let dataPosition: DataPosition;
  let rngState: number[];
  try {
    dataPosition = JSON.parse(data_position) as DataPosition;
    rngState = JSON.parse(rng) as number[];
  } catch {
    throw new Error(`${path}: data_position or rng metadata is not JSON`);
  }
  if (!Number.isInteger(dataPosition?.epoch) || !Number.isInteger(dataPosition?.index))
    throw new Error(`${path}: data_position ${data_position} is not {epoch, index}`);
  const out: Record<string, TensorData> = {};
  for (const [k, t] of tensors) out[k] = toTensorData(t, k);
  return { tensors: out, dataPosition, rng: rngState, meta };
}
