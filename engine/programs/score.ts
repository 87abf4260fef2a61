import { Graph, type TensorData } from '../graph';
import * as op from '../ops';
import type { Runner } from '../runner';
import { checkSequenceLength } from '../model/config';
import { decoderForward, lmHead } from '../model/decoder';
import { sharedPrefixForward } from '../model/shared-prefix';
import { type LoraConfig, type LoraWeights, loraScale } from '../lora/lora';
import { asParamState, checkTokens, decoderParams, f32, i64, loadProgram, padBatch, scalarF32 } from './common';
import type { ProgramModel } from './common';

export interface ScoreProgramOptions {
  /** Compile LoRA in (its tensors come from the runner's state `param.<module>.lora_A|B`). */
  lora?: LoraConfig;
  /** Read base weights from the runner's state `param.<name>` (full fine-tuning) instead of initializers. */
  weightsFromState?: boolean;
}

/** The inputs both score programs share: `temperature`, `lora_scale` with LoRA, and the weights. */
function scoreInputs(g: Graph, model: ProgramModel, o: ScoreProgramOptions) {
  const temperature = g.input('temperature', 'float32', []);
  const scale = o.lora ? g.input('lora_scale', 'float32', []) : undefined;
  const m = decoderParams(
    g,
    model.config,
    o.weightsFromState ? undefined : model.weights,
    o.lora && scale ? { config: o.lora, scale } : undefined,
  );
  return { temperature, m };
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
  const { temperature, m } = scoreInputs(g, model, o);
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

/**
 * score over prompts shared by several targets (GRPO's K rewrites of one prompt, Generate-Verify-
 * Fallback's k candidates): each prompt runs once (model/shared-prefix.ts). Inputs `prompt_tokens`
 * [Bp, P] LEFT-padded with `prompt_mask`, `tokens` [B, T] the targets RIGHT-padded with `mask`,
 * `group` [B] int64 (each target's prompt row), `temperature`, and `lora_scale` with LoRA. Outputs
 * `logprobs` [B, T] (column j: log p of target token j) and `pooled` [B, H] over the target tokens.
 */
export function buildSharedScoreProgram(model: ProgramModel, o: ScoreProgramOptions = {}): Graph {
  const g = new Graph('score-shared');
  const prompts = g.input('prompt_tokens', 'int64', ['groups', 'prompt']);
  const promptMask = g.input('prompt_mask', 'float32', ['groups', 'prompt']);
  const tokens = g.input('tokens', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'float32', ['batch', 'seq']);
  const group = g.input('group', 'int64', ['batch']);
  const { temperature, m } = scoreInputs(g, model, o);
  const { predicting, completion } = sharedPrefixForward(m, prompts, promptMask, tokens, mask, group);
  const logits = op.div(lmHead(m, predicting), temperature);
  g.output('logprobs', op.squeeze(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(tokens, [-1]), -1), [-1]));
  const w = op.unsqueeze(mask, [-1]);
  g.output('pooled', op.div(op.reduceSum(op.mul(completion, w), [1]), op.max(op.reduceSum(w, [1]), 1e-9)));
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
  private sharedLoaded?: Promise<void>;
  private constructor(
    readonly runner: Runner,
    readonly name: string,
    readonly model: ProgramModel,
    readonly options: ScoreProgramOptions,
  ) {}

  get lora(): LoraConfig | undefined {
    return this.options.lora;
  }

  static async create(
    runner: Runner,
    model: ProgramModel,
    o: ScoreProgramOptions & { name?: string } = {},
  ): Promise<ScoreProgram> {
    const name = o.name ?? `score${o.lora ? '+lora' : ''}`;
    await loadProgram(runner, name, buildScoreProgram(model, o));
    return new ScoreProgram(runner, name, model, o);
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
    const groups = promptGroups(items);
    if (groups) return this.scoreShared(items, groups, o);
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

  /** Items whose prompts repeat: each distinct prompt runs once (buildSharedScoreProgram). */
  private async scoreShared(
    items: ScoreItem[],
    g: { prompts: number[][]; group: number[] },
    o: { temperature?: number; adapter?: boolean; padId?: number },
  ): Promise<ScoreResult> {
    const name = `${this.name}+shared`;
    this.sharedLoaded ??= loadProgram(this.runner, name, buildSharedScoreProgram(this.model, this.options));
    await this.sharedLoaded;
    const pad = o.padId ?? 0;
    items.forEach((it, i) => {
      if (!it.target.length) throw new Error(`score: item ${i} has an empty target`);
    });
    checkTokens(
      'score',
      items.map((it) => [...it.prompt, ...it.target]),
      this.model.config.vocabSize,
    );
    checkSequenceLength(this.model.config, Math.max(...items.map((it) => it.prompt.length + it.target.length)));
    const p = padBatch(g.prompts, 'left', pad);
    const t = padBatch(
      items.map((it) => it.target),
      'right',
      pad,
    );
    const feeds: Record<string, TensorData> = {
      prompt_tokens: p.tokens,
      prompt_mask: p.mask,
      tokens: t.tokens,
      mask: t.mask,
      group: i64([items.length], g.group),
      temperature: scalarF32(o.temperature ?? 1),
    };
    if (this.lora) feeds.lora_scale = scalarF32(o.adapter === false ? 0 : loraScale(this.lora));
    const r = await this.runner.run(name, feeds);
    const lp = r.outputs.logprobs.data as Float32Array;
    const pooled = r.outputs.pooled.data as Float32Array;
    const H = this.model.config.hiddenSize;
    const T = t.width;
    return {
      logprobs: items.map((it, i) => lp.slice(i * T, i * T + it.target.length)),
      embeddings: items.map((_, i) => pooled.slice(i * H, (i + 1) * H)),
    };
  }
}

/**
 * The distinct prompts of a batch and each item's prompt row, when sharing them saves work: every
 * prompt non-empty and at least one used twice. Otherwise undefined (the plain program).
 */
function promptGroups(items: ScoreItem[]): { prompts: number[][]; group: number[] } | undefined {
  if (items.some((it) => !it.prompt.length)) return undefined;
  const rows = new Map<string, number>();
  const prompts: number[][] = [];
  const group = items.map((it) => {
    const key = it.prompt.join(',');
    let row = rows.get(key);
    if (row === undefined) {
      rows.set(key, (row = prompts.length));
      prompts.push(it.prompt);
    }
    return row;
  });
  return prompts.length < items.length ? { prompts, group } : undefined;
}
