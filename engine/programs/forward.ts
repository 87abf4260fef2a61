import { Graph } from '../graph';
import * as op from '../ops';
import type { DecoderConfig } from '../model/config';
import { decoderForward, lmHead } from '../model/decoder';
import type { DecoderWeights } from '../model/weights';
import type { LoraConfig } from '../lora/lora';
import { loraScale } from '../lora/lora';
import { decoderParams } from './common';

export interface ForwardProgramOptions {
  /** Adapt with LoRA tensors read from inputs `param.<module>.lora_A|B`. */
  lora?: LoraConfig;
  /** Take RoPE positions as an input `positions` [B, T] instead of deriving them from the mask. */
  positionsInput?: boolean;
}

/**
 * Plain forward pass: inputs `tokens` int64 [B, T], `mask` float [B, T] (and `positions`), outputs
 * `logits` [B, T, V] and `hidden` [B, T, H] (after the final norm). For checks and debugging; the
 * score, generate and train programs return far less.
 */
export function buildForwardProgram(c: DecoderConfig, w: DecoderWeights, o: ForwardProgramOptions = {}): Graph {
  const g = new Graph('forward');
  const tokens = g.input('tokens', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'float32', ['batch', 'seq']);
  const positions = o.positionsInput ? g.input('positions', 'int64', ['batch', 'seq']) : undefined;
  const m = decoderParams(g, c, w, o.lora ? { config: o.lora, scale: loraScale(o.lora) } : undefined);
  const { hidden } = decoderForward(m, tokens, mask, positions);
  g.output('logits', lmHead(m, hidden));
  g.output('hidden', op.identity(hidden));
  return g;
}
