import type { Tensor, TensorData } from '../graph';
import * as op from '../ops';
import type { Runner } from '../runner';
import {
  type CompiledProgram,
  type ParamSpec,
  type TrainStepSpec,
  compileTrainStep,
  initialOptimizerState,
  names,
} from '../program';
import type { AdamWConfig } from '../optim';
import { checkSequenceLength } from '../model/config';
import { type DecoderParams, decoderForward, lmHead } from '../model/decoder';
import { expectedWeights, isLinearWeight } from '../model/weights';
import { type LoraConfig, type LoraWeights, loraModules, loraParamName, loraScale } from '../lora/lora';
import { type ProgramModel, checkTokens, f32, loadProgram } from './common';
import { grpoLoss } from './grpo-loss';
import { type PackedBlocks, packedBatch, packedRunFeeds, packedSftLoss } from './train-packed';
import { SHARED_PROMPT_BATCH, SHARED_REF_LOGP, sharedPromptFeeds, sharedPromptLogprobs } from './train-shared';

export interface GrpoOptions {
  /** PPO clip range (default 0.2). */
  clip?: number;
  /** Coefficient of the low-variance KL (k3) to the reference policy (default 0.001; 0 = no KL). */
  klCoef?: number;
  /** Sampling temperature of the rollouts: log-probs are computed from logits / temperature (default 1). */
  temperature?: number;
  /**
   * Where the reference log-probs come from: 'graph' = a second forward pass with the adapter switched
   * off (LoRA only; default for LoRA), 'input' = the batch's `ref_logp` (required for full fine-tuning).
   */
  reference?: 'graph' | 'input';
  /**
   * Each prompt runs once for all its completions (train-shared.ts): every prompt of a micro-batch
   * must come with the same number of completions, as GRPO's groups do. The same loss up to float
   * rounding, in a fraction of the work when prompts are long next to the completions.
   */
  sharedPrompts?: boolean;
}

export interface TrainProgramOptions {
  objective: 'sft' | 'grpo';
  /** LoRA fine-tuning with this adapter config; omitted = full fine-tuning of every weight. */
  lora?: LoraConfig;
  grpo?: GrpoOptions;
  optimizer?: AdamWConfig;
  /** Global-norm gradient clipping (default 1.0; 0 = off). */
  clipNorm?: number;
  /**
   * Gradient accumulation: each optimizer step takes a list of micro-batches (same count for every
   * step of a run) and uses their mean gradient; only one micro-batch's activations are alive at once.
   */
  accumulate?: boolean;
  /** Take one learning rate per optimizer step of a run (schedules inside a run). */
  lrPerStep?: boolean;
  /** Runs take one optimizer step each (TrainStepSpec.singleStep: the same ops without the Loop). */
  singleStep?: boolean;
  /**
   * SFT only: lay each batch's examples out as one flat token stream (train-packed.ts) instead of
   * padding every example to the longest. The same loss on the same examples up to float rounding, so a run
   * trains to the same loss but not bit for bit: off by default, which keeps trained weights (and
   * everything keyed by them) exactly as before.
   */
  packed?: boolean;
  /** The packed step's attention blocks (default PACKED_BLOCKS, measured on the world's batches). */
  packedBlocks?: PackedBlocks;
}

/** Trainable parameter specs: LoRA tensors, or every base weight (no decay on norms and biases). */
export function trainableParams(m: ProgramModel, lora?: LoraConfig): ParamSpec[] {
  if (lora)
    return loraModules(m.config, lora).flatMap((x) => [
      { name: loraParamName(x.module, 'A'), shape: [x.inFeatures, lora.rank] },
      { name: loraParamName(x.module, 'B'), shape: [lora.rank, x.outFeatures] },
    ]);
  return [...expectedWeights(m.config)].map(([name, s]) => ({
    name,
    shape: isLinearWeight(name) ? [s[1], s[0]] : s,
    decay: !(name.endsWith('norm.weight') || name.endsWith('.bias')),
  }));
}

/**
 * Rows are left-padded, so every trained token lies in the last `targetLen` columns: `next` are their
 * columns, `pred` the columns predicting them. Gathering them (Gather's gradient is a scatter-add)
 * keeps the LM head and the loss to the trained span, whatever the prompt length.
 */
function targetColumns(tokens: Tensor, targetLen: Tensor): { pred: Tensor; next: Tensor } {
  const g = tokens.graph;
  const one = op.scalar(g, 1, 'int64');
  const end = op.sub(op.dimOf(tokens, 1), one);
  const pred = op.range(op.sub(end, targetLen), end, one);
  return { pred, next: op.add(pred, one) };
}

/** log p(token | tokens before it) of the last Tt columns, temperature-scaled: [B, Tt]. */
function targetLogprobs(
  m: DecoderParams,
  tokens: Tensor,
  mask: Tensor,
  cols: { pred: Tensor; next: Tensor },
  temperature: number,
): Tensor {
  const { hidden } = decoderForward(m, tokens, mask);
  let logits = lmHead(m, op.gather(hidden, cols.pred, 1));
  if (temperature !== 1) logits = op.mul(logits, 1 / temperature);
  const next = op.gather(tokens, cols.next, 1);
  return op.squeeze(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(next, [-1]), -1), [-1]);
}

/**
 * Compiles the SFT or GRPO train step (K AdamW steps per run, one per micro-batch) on the
 * engine's train-step compiler. Batch inputs per micro-batch ([B, T], LEFT-padded):
 * `tokens` int64, `mask` (1 = token), `loss_mask` (1 where token t is trained on; t >= 1), and the
 * scalar `target_len` (Tt: trained tokens all lie in the last Tt columns; only those get logits).
 * GRPO adds `advantages` [B], `old_logp` [B, T] (entry t = log-prob of token t when sampled) and,
 * with reference 'input', `ref_logp` [B, T].
 * SFT loss: token-mean cross-entropy over loss_mask. GRPO loss: grpoLoss (grpo-loss.ts), token-mean of
 * -min(r A, clip(r, 1-c, 1+c) A) + klCoef * (exp(ref - logp) - (ref - logp) - 1).
 */
export function trainStepSpec(
  m: ProgramModel,
  o: TrainProgramOptions,
  shape: { batch?: number; seq?: number } = {},
): TrainStepSpec {
  const B = shape.batch ?? 'batch';
  const T = shape.seq ?? 'seq';
  const grpo = o.objective === 'grpo';
  const gopt = o.grpo ?? {};
  const klCoef = gopt.klCoef ?? 0.001;
  const reference = gopt.reference ?? (o.lora ? 'graph' : 'input');
  if (grpo && klCoef !== 0 && reference === 'graph' && !o.lora)
    throw new Error(
      "GRPO with full fine-tuning needs reference 'input' (the reference policy's log-probs in the batch)",
    );
  if (o.packed && grpo) throw new Error('train step: packed rows are for the SFT objective only');
  const shared = grpo && !!gopt.sharedPrompts;
  const batch: TrainStepSpec['batch'] = o.packed
    ? packedBatch(o.packedBlocks)
    : shared
      ? [...SHARED_PROMPT_BATCH, ...(klCoef !== 0 && reference === 'input' ? [SHARED_REF_LOGP] : [])]
      : [
          { name: 'tokens', dtype: 'int64', shape: [B, T] },
          { name: 'mask', dtype: 'float32', shape: [B, T] },
          { name: 'loss_mask', dtype: 'float32', shape: [B, T] },
          { name: 'target_len', dtype: 'int64', shape: [] },
        ];
  if (grpo && !shared) {
    batch.push({ name: 'advantages', dtype: 'float32', shape: [B] });
    batch.push({ name: 'old_logp', dtype: 'float32', shape: [B, T] });
    if (klCoef !== 0 && reference === 'input') batch.push({ name: 'ref_logp', dtype: 'float32', shape: [B, T] });
  }
  const lora = o.lora;
  const params = trainableParams(m, lora);
  const frozen = lora ? { ...m.weights } : undefined;
  const temperature = grpo ? (gopt.temperature ?? 1) : 1;
  return {
    params,
    frozen,
    batch,
    optimizer: { kind: 'adamw', ...o.optimizer },
    clipNorm: o.clipNorm === 0 ? undefined : (o.clipNorm ?? 1),
    accumulate: o.accumulate,
    lrPerStep: o.lrPerStep,
    singleStep: o.singleStep,
    loss: ({ params: p, frozen: fz, batch: b }) => {
      const weight = (n: string) => {
        const t = lora ? fz[n] : p[n];
        if (!t) throw new Error(`train step: no weight '${n}'`);
        return t;
      };
      const dm: DecoderParams = {
        config: m.config,
        weight,
        lora: lora
          ? {
              get: (mod) => {
                const a = p[loraParamName(mod, 'A')];
                return a ? { a, b: p[loraParamName(mod, 'B')] } : undefined;
              },
              scale: loraScale(lora),
            }
          : undefined,
      };
      if (o.packed) return packedSftLoss(dm, b, o.packedBlocks);
      if (shared) {
        const ref =
          klCoef === 0
            ? undefined
            : reference === 'input'
              ? b.ref_logp
              : sharedPromptLogprobs({ config: m.config, weight }, b, temperature);
        return grpoLoss({
          logp: sharedPromptLogprobs(dm, b, temperature),
          oldLogp: b.old_logp,
          refLogp: ref,
          advantages: b.advantages,
          mask: b.mask,
          clip: gopt.clip,
          klCoef,
        });
      }
      const cols = targetColumns(b.tokens, b.target_len);
      const at = (x: Tensor) => op.gather(x, cols.next, 1);
      const lp = targetLogprobs(dm, b.tokens, b.mask, cols, temperature); // [B, Tt]
      const lm = at(b.loss_mask);
      if (!grpo) {
        const denom = op.max(op.reduceSum(lm), 1);
        return { loss: op.neg(op.div(op.reduceSum(op.mul(lp, lm)), denom)), metrics: { tokens: op.reduceSum(lm) } };
      }
      let ref: Tensor | undefined;
      if (klCoef !== 0)
        ref =
          reference === 'input'
            ? at(b.ref_logp)
            : targetLogprobs({ config: m.config, weight }, b.tokens, b.mask, cols, temperature);
      return grpoLoss({
        logp: lp,
        oldLogp: at(b.old_logp),
        refLogp: ref,
        advantages: b.advantages,
        mask: lm,
        clip: gopt.clip,
        klCoef,
      });
    },
  };
}

export interface SftExample {
  prompt: number[];
  /** Tokens trained on (the answer, with its EOS when wanted). */
  target: number[];
}

export interface GrpoExample {
  prompt: number[];
  /** The sampled completion. */
  completion: number[];
  advantage: number;
  /** log-probs of the completion's tokens when sampled (generate's `logprobs`). */
  oldLogprobs: number[];
  /** Reference log-probs of the completion (reference 'input' only). */
  refLogprobs?: number[];
}

export type Example = SftExample | GrpoExample;

export interface TrainStepResult {
  /** Loss of each micro-step. */
  losses: number[];
  gradNorms?: number[];
  metrics: Record<string, number[]>;
  runMs: number;
  /** Bytes onnxruntime returned for the run (state updates included). */
  outputBytes: number;
}

/**
 * A compiled SFT or GRPO train step on a runner. Parameters and AdamW moments live in the runner's
 * state between runs (`param.<name>`, shared with score and generate programs on the same runner);
 * each `step` call runs one optimizer step per micro-batch inside a single ONNX run.
 */
export class TrainProgram {
  private constructor(
    readonly runner: Runner,
    readonly name: string,
    readonly model: ProgramModel,
    readonly options: TrainProgramOptions,
    readonly spec: TrainStepSpec,
    readonly program: CompiledProgram,
  ) {}

  static async create(
    runner: Runner,
    model: ProgramModel,
    o: TrainProgramOptions & { name?: string; memoryPattern?: boolean },
  ): Promise<TrainProgram> {
    const spec = trainStepSpec(model, o);
    const program = compileTrainStep(spec);
    const name = o.name ?? `train-${o.objective}${o.lora ? '+lora' : ''}`;
    // Batch shapes change from step to step (length buckets, packed sizes), so onnxruntime's memory
    // pattern is off by default (SessionOptions.memoryPattern; the world's train step: 1.06x padded,
    // 1.12x packed, bench/engine-world-train.ts).
    await loadProgram(runner, name, program.graph, { memoryPattern: o.memoryPattern ?? false });
    return new TrainProgram(runner, name, model, o, spec, program);
  }

  /** Sets the trainable parameters (LoRA tensors, or all weights) and zeroes the optimizer state. */
  async init(params: LoraWeights | Record<string, TensorData>): Promise<void> {
    const state: Record<string, TensorData> = {};
    for (const p of this.spec.params) {
      const t = params[p.name];
      if (!t) throw new Error(`train program: no initial value for parameter '${p.name}'`);
      if (t.shape.join() !== p.shape.join())
        throw new Error(`train program: parameter '${p.name}' has shape [${t.shape}], expected [${p.shape}]`);
      state[names.param(p.name)] = { dtype: 'float32', shape: [...t.shape], data: t.data.slice() };
    }
    await this.runner.setState({ ...state, ...initialOptimizerState(this.spec) });
  }

  /**
   * The runner state of this program (parameters, AdamW moments, step): what a checkpoint needs,
   * e.g. `saveTrainerState(path, { tensors: await train.stateTensors(), dataPosition, rng })`.
   */
  async stateTensors(): Promise<Record<string, TensorData>> {
    return this.runner.getState(this.program.state);
  }

  /** Restores tensors from `stateTensors()` (a resumed run continues bit-exactly). */
  async restoreState(tensors: Record<string, TensorData>): Promise<void> {
    const missing = this.program.state.filter((k) => !tensors[k]);
    if (missing.length) throw new Error(`train program: checkpoint lacks ${missing.slice(0, 3).join(', ')}`);
    await this.runner.setState(Object.fromEntries(this.program.state.map((k) => [k, tensors[k]])));
  }

  private lrFeed(lr: number | number[], steps: number): TensorData {
    if (this.options.lrPerStep) {
      const v = typeof lr === 'number' ? new Array<number>(steps).fill(lr) : lr;
      if (v.length !== steps) throw new Error(`train step: ${v.length} learning rates for ${steps} steps`);
      return f32([steps], v);
    }
    if (typeof lr !== 'number') throw new Error('train step: one learning rate per step needs lrPerStep');
    return f32([], [lr]);
  }

  /** Current trainable parameters (copies), keyed by parameter name. */
  async params(): Promise<Record<string, TensorData>> {
    const st = await this.runner.getState(this.spec.params.map((p) => names.param(p.name)));
    return Object.fromEntries(this.spec.params.map((p) => [p.name, st[names.param(p.name)]]));
  }

  /**
   * Runs one optimizer step per entry of `steps`, in one program run. An entry is a batch of
   * examples, or (with `accumulate`) a list of micro-batches whose gradients are averaged. Every
   * batch is left-padded to one shape. `lr` is a number, or one per step with `lrPerStep`.
   */
  async step(steps: (Example[] | Example[][])[], lr: number | number[]): Promise<TrainStepResult> {
    if (!steps.length) throw new Error('train step: no steps');
    if (this.options.singleStep && steps.length > 1)
      throw new Error(`train step: this program takes one step per run (singleStep), got ${steps.length}`);
    const acc = !!this.options.accumulate;
    const M = acc ? (steps[0] as Example[][]).length : 1;
    const micro: Example[][] = [];
    for (const s of steps) {
      const list = acc ? (s as Example[][]) : [s as Example[]];
      if (list.length !== M) throw new Error(`train step: every step needs ${M} micro-batches, got ${list.length}`);
      micro.push(...list);
    }
    const grpo = this.options.objective === 'grpo';
    const rows = micro.map((mb) =>
      mb.map((e) => {
        const prompt = e.prompt;
        const tail = grpo ? (e as GrpoExample).completion : (e as SftExample).target;
        return { prompt, tail, e };
      }),
    );
    checkTokens(
      'train step',
      rows.flatMap((r) => r.map((x) => [...x.prompt, ...x.tail])),
      this.model.config.vocabSize,
    );
    const B = Math.max(1, ...rows.map((r) => r.length));
    const T = Math.max(2, ...rows.flatMap((r) => r.map((x) => x.prompt.length + x.tail.length)));
    checkSequenceLength(this.model.config, T);
    const K = micro.length;
    const lead = acc ? [steps.length, M] : [K];
    if (this.options.packed)
      return this.run({
        ...packedRunFeeds(micro as SftExample[][], lead, this.options.packedBlocks),
        [names.lr]: this.lrFeed(lr, steps.length),
      });
    if (grpo && this.options.grpo?.sharedPrompts) {
      const withRef = this.spec.batch.some((b) => b.name === 'ref_logp');
      const feeds = sharedPromptFeeds(micro as GrpoExample[][], lead, withRef);
      return this.run({ ...feeds, [names.lr]: this.lrFeed(lr, steps.length) });
    }
    const tokens = new BigInt64Array(K * B * T);
    const mask = new Float32Array(K * B * T);
    const lossMask = new Float32Array(K * B * T);
    const adv = new Float32Array(K * B);
    const old = new Float32Array(K * B * T);
    const ref = new Float32Array(K * B * T);
    const needRef = this.spec.batch.some((b) => b.name === 'ref_logp');
    rows.forEach((mb, k) =>
      mb.forEach((x, i) => {
        // Left-padded: the row ends at the last column.
        const base = (k * B + i) * T + T - x.prompt.length - x.tail.length;
        const all = [...x.prompt, ...x.tail];
        all.forEach((v, j) => {
          tokens[base + j] = BigInt(v);
          mask[base + j] = 1;
        });
        const p = x.prompt.length;
        if (p === 0) throw new Error('train step: every example needs at least one prompt token');
        for (let j = 0; j < x.tail.length; j++) lossMask[base + p + j] = 1;
        if (grpo) {
          const e = x.e as GrpoExample;
          if (e.oldLogprobs.length !== e.completion.length)
            throw new Error('train step: oldLogprobs must have one entry per completion token');
          adv[k * B + i] = e.advantage;
          e.oldLogprobs.forEach((v, j) => (old[base + p + j] = v));
          if (needRef) {
            if (!e.refLogprobs || e.refLogprobs.length !== e.completion.length)
              throw new Error('train step: refLogprobs (one per completion token) are required');
            e.refLogprobs.forEach((v, j) => (ref[base + p + j] = v));
          }
        }
      }),
    );
    const feeds: Record<string, TensorData> = {
      [names.batch('tokens')]: { dtype: 'int64', shape: [...lead, B, T], data: tokens },
      [names.batch('mask')]: f32([...lead, B, T], mask),
      [names.batch('loss_mask')]: f32([...lead, B, T], lossMask),
      [names.batch('target_len')]: {
        dtype: 'int64',
        shape: lead,
        data: new BigInt64Array(K).fill(
          BigInt(Math.min(T - 1, Math.max(...rows.flatMap((r) => r.map((x) => x.tail.length))))),
        ),
      },
      [names.lr]: this.lrFeed(lr, steps.length),
    };
    if (grpo) {
      feeds[names.batch('advantages')] = f32([...lead, B], adv);
      feeds[names.batch('old_logp')] = f32([...lead, B, T], old);
      if (needRef) feeds[names.batch('ref_logp')] = f32([...lead, B, T], ref);
    }
    return this.run(feeds);
  }

  private async run(feeds: Record<string, TensorData>): Promise<TrainStepResult> {
    const r = await this.runner.run(this.name, feeds);
    const metrics: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(r.outputs))
      if (k.startsWith('metric.')) metrics[k.slice(7)] = Array.from(v.data as Float32Array);
    return {
      losses: Array.from(r.outputs[names.losses].data as Float32Array),
      gradNorms: r.outputs[names.gradNorms] ? Array.from(r.outputs[names.gradNorms].data as Float32Array) : undefined,
      metrics,
      runMs: r.runMs,
      outputBytes: r.outputBytes,
    };
  }
}
