// The untrained backbone as a Hugging Face model folder: config, seeded random weights, and the
// byte-level tokenizer. Pretraining starts from it like fine-tuning starts from any model.
import { saveHFFolder } from '../engine/hf-folder';
import { parseDecoderConfig, randomDecoderWeights } from '../engine/model';
import { byteLevelTokenizerFiles } from '../engine/tokenizer';
import { backboneConfig, type BackboneShape } from './recipe';

export async function writeInitialBackbone(dir: string, shape: BackboneShape, seed: number): Promise<void> {
  const config = parseDecoderConfig(backboneConfig(shape));
  await saveHFFolder(dir, config, randomDecoderWeights(config, seed + 1), {
    tokenizer: byteLevelTokenizerFiles(),
    generationConfig: { eos_token_id: 258, pad_token_id: 256 },
    overwrite: true,
  });
}
