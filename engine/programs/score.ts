import { Graph, type TensorData } from '../graph';
import * as op from '../ops';
import type { Runner } from '../runner';
import { checkSequenceLength } from '../model/config';
import { decoderForward, lmHead } from '../model/decoder';
import { type LoraConfig, type LoraWeights, loraScale } from '../lora/lora';
import { asParamState, checkTokens, decoderParams, f32, i64, loadProgram, padBatch, scalarF32 } from './common';
import type { ProgramModel } from './common';

export interface ScoreProgramOptions {
  /** Compile LoRA in (its tensors come from the runner's state `param.<module>.lora_A|B`). */
  lora?: LoraConfig;
  /** Read base weights from the runner's state `param.<name>` (full fine-tuning) instead of initializers. */
  weightsFromState?: boolean;
}

/**
 * score: inputs `tokens` int64 [B, T] (LEFT-padded prompt + target), `mask` [B, T] (1 = token),
 * `target_mask` [B, T] (1 where a token is a target), `target_len` (Tt: the longest target, < T),
 * `temperature` scalar (logits are divided by it), and `lora_scale` with LoRA (0 switches the adapter
 * off). Outputs `logprobs` [B, Tt] (column j: log p of token T - Tt + j given the tokens before it,
 * under the temperature-scaled distribution) and `pooled` [B, H] (final-norm hidden states averaged
 * over the target tokens).
 */
export function buildScoreProgram(model: ProgramModel, o: ScoreProgramOptions = {}): Graph {
  const g = new Graph('score');
  const tokens = g.input('tokens', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'float32', ['batch', 'seq']);
  const targetMask = g.input('target_mask', 'float32', ['batch', 'seq']);
  const temperature = g.input('temperature', 'float32', []);
  const scale = o.lora ? g.input('lora_scale', 'float32', []) : undefined;
  const m = decoderParams(
    g,
    model.config,
    o.weightsFromState ? undefined : model.weights,
    o.lora && scale ? { config: o.lora, scale } : undefined,
  );
  const targetLen = g.input('target_len', 'int64', []);
  const { hidden } = decoderForward(m, tokens, mask);
  // Rows are left-padded, so every target span ends at the last column: only the last `target_len`
  // positions need logits (prompts can be long and vocabularies large).
  const t = op.dimOf(tokens, 1);
  const end = op.sub(t, op.scalar(g, 1, 'int64'));
  const start = op.sub(end, targetLen);
  const h = op.slice(hidden, op.reshape(start, [1]), op.reshape(end, [1]), [1]); // predicts the next tokens
  const logits = op.div(lmHead(m, h), temperature);
  const next = op.slice(tokens, op.reshape(op.add(start, op.scalar(g, 1, 'int64')), [1]), op.reshape(t, [1]), [1]);
  const lp = op.squeeze(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(next, [-1]), -1), [-1]);
  g.output('logprobs', lp);
  const w = op.unsqueeze(targetMask, [-1]);
  const pooled = op.div(op.reduceSum(op.mul(hidden, w), [1]), op.max(op.reduceSum(w, [1]), 1e-9));
  g.output('pooled', pooled);
  return g;
}

export interface ScoreItem {
  /** Context tokens (may be empty: the target starts the sequence and its first token gets log-prob 0). */
  prompt: number[];
  /** Tokens whose log-probabilities are returned (at least one). */
  target: number[];
}

export interface ScoreResult {
  /** log p(target[i] | prompt, target[<i]) per target token (temperature-scaled). */
  logprobs: Float32Array[];
  /** Mean over the target tokens of the last hidden state (after the final norm), [hidden]. */
  embeddings: Float32Array[];
}

/**
 * The score program on a runner: per-token log-probabilities of target spans and mean-pooled last
 * hidden states, one run per batch.
 */
export class ScoreProgram {
  private constructor(
    readonly runner: Runner,
    readonly name: string,
    readonly model: ProgramModel,
    readonly lora?: LoraConfig,
  ) {}

  static async create(
    runner: Runner,
    model: ProgramModel,
    o: ScoreProgramOptions & { name?: string } = {},
  ): Promise<ScoreProgram> {
    const name = o.name ?? `score${o.lora ? '+lora' : ''}`;
    await loadProgram(runner, name, buildScoreProgram(model, o));
    return new ScoreProgram(runner, name, model, o.lora);
  }

  /** Puts adapter tensors into the runner's state (shared with generate and train programs). */
  async setAdapter(w: LoraWeights): Promise<void> {
    await this.runner.setState(asParamState(w));
  }

  async score(
    items: ScoreItem[],
    o: { temperature?: number; adapter?: boolean; padId?: number } = {},
  ): Promise<ScoreResult> {
    if (!items.length) return { logprobs: [], embeddings: [] };
    const rows = items.map((it, i) => {
      if (!it.target.length) throw new Error(`score: item ${i} has an empty target`);
      return [...it.prompt, ...it.target];
    });
    checkTokens('score', rows, this.model.config.vocabSize);
    const b = padBatch(rows, 'left', o.padId ?? 0);
    checkSequenceLength(this.model.config, b.width);
    const T = b.width;
    const tm = new Float32Array(items.length * T);
    items.forEach((it, i) => {
      for (let j = 0; j < it.target.length; j++) tm[i * T + T - it.target.length + j] = 1;
    });
    // Columns scored: the last Tt (the first column has no context to predict it from).
    const Tt = Math.min(T - 1, Math.max(...items.map((it) => it.target.length)));
    const feeds: Record<string, TensorData> = {
      tokens: b.tokens,
      mask: b.mask,
      target_mask: f32([items.length, T], tm),
      temperature: scalarF32(o.temperature ?? 1),
      target_len: i64([], [Tt]),
    };
    if (this.lora) feeds.lora_scale = scalarF32(o.adapter === false ? 0 : loraScale(this.lora));
    const r = await this.runner.run(this.name, feeds);
    const lp = r.outputs.logprobs.data as Float32Array;
    const pooled = r.outputs.pooled.data as Float32Array;
    const H = this.model.config.hiddenSize;
    return {
      logprobs: items.map((it, i) => {
        const n = it.target.length;
        const out = new Float32Array(n); // a first token without context keeps 0
        for (let k = it.prompt.length ? 0 : 1; k < n; k++) if (Tt - n + k >= 0) out[k] = lp[i * Tt + Tt - n + k];
        return out;
      }),
      embeddings: items.map((_, i) => pooled.slice(i * H, (i + 1) * H)),
    };
  }
}
