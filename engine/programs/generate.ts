import { Graph, type Tensor, type TensorData } from '../graph';
import * as op from '../ops';
import type { Runner } from '../runner';
import { checkSequenceLength } from '../model/config';
import {
  type DecoderParams,
  type LayerKV,
  cachedAttention,
  decoderForward,
  decoderLayers,
  lmHead,
  NEG_INF,
} from '../model/decoder';
import { type LoraConfig, type LoraWeights, loraScale } from '../lora/lora';
import type { TextTokenizer } from '../tokenizer';
import { asParamState, checkTokens, decoderParams, f32, i64, loadProgram, padBatch, scalarF32 } from './common';
import type { ProgramModel } from './common';
import { eosTokenIds } from '../model';
import { samplingNoise } from './noise';

export interface GenerateProgramOptions {
  lora?: LoraConfig;
  /** Read base weights from the runner's state `param.<name>` (full fine-tuning) instead of initializers. */
  weightsFromState?: boolean;
}

/** Candidates a top-p < 1 step takes from TopK before it falls back to sorting the whole vocabulary. */
export const TOP_P_CANDIDATES = 64;

/** A copy of `t` that lives in graph `b`, so the ops built on it land in that If branch. */
function local(b: Graph, t: Tensor): Tensor {
  return b.addNode('Identity', [t], [{ dtype: t.dtype, shape: t.shape }])[0];
}

/**
 * Top-p sampling by inverse CDF over the most likely tokens first: the probabilities `p` [B, K]
 * sorted in decreasing order with their token ids `idx`, K up to the whole vocabulary. Keeps the
 * smallest prefix whose mass reaches `topP` (the most likely token always) and picks the token
 * whose cumulative kept mass first exceeds u times the kept total.
 */
export function sampleFromSorted(p: Tensor, idx: Tensor, u: Tensor, topP: Tensor): Tensor {
  const g = p.graph;
  const cum = op.cumSum(p, 1);
  const keep = op.less(op.sub(cum, p), topP); // always keeps the most likely token
  const pk = op.where(keep, p, op.scalar(g, 0, 'float32'));
  const total = op.reduceSum(pk, [1], true);
  const thr = op.mul(op.unsqueeze(u, [1]), total);
  const below = op.reduceSum(op.cast(op.lessOrEqual(op.cumSum(pk, 1), thr), 'int64'), [1], true);
  const nKeep = op.reduceSum(op.cast(keep, 'int64'), [1], true);
  const k = op.min(below, op.sub(nKeep, op.scalar(g, 1, 'int64')));
  return op.squeeze(op.gatherElements(idx, k, 1), [1]);
}

/** Below this log-probability exp() is 0 in float32, so no such token can be in a nucleus. */
const LOGP_FLOOR = -110;

/** Bisection steps per iteration of the wide nucleus's Loop (a step on a closed bracket is a no-op). */
const BISECTION_UNROLL = 4;
/** Block width of the wide nucleus's inverse CDF: block sums first, then one block's running sum. */
const CDF_BLOCK = 1024;

/**
 * Top-p (< 1) sampling without sorting the vocabulary, for rows whose nucleus is wide (a flat step of
 * a real vocabulary keeps most of it): log-probabilities `lp` [n, V], noise `u` [n]. The sort keeps
 * the tokens whose preceding mass is below top-p; the least likely of them has log-probability v*,
 * the smallest value whose strictly-more-likely mass A(v) = sum of p over lp > v is below top-p.
 * A(v) < top-p holds exactly for v >= v*, so bisection on v (lo where it fails, hi where it holds)
 * ends with hi = v* once no float lies between lo and hi (about 23 passes of three ops over [n, V]
 * on a flat step). A step on such a closed bracket changes nothing (its midpoint rounds to lo, which
 * fails, or to hi, which holds), so the Loop takes BISECTION_UNROLL steps per iteration and checks
 * the bracket once (a step's small ops cost about 40% of its passes over V). The tokens tied at v* are kept in vocabulary order while the mass before them is below
 * top-p, as the sort (ties by lower index first) keeps them; when even the last of them is kept
 * (the usual case: v* is one token's), the nucleus is simply lp >= v*. The token is then drawn by
 * inverse CDF over the nucleus in vocabulary order, in two levels: the running sum of CDF_BLOCK-wide
 * block sums picks the block, that block's running sum the token (no running sum over all of V).
 */
export function sampleWideNucleus(lp: Tensor, u: Tensor, topP: Tensor, vocab: number): Tensor {
  const g = lp.graph;
  const zero = op.scalar(g, 0, 'float32');
  const p = op.exp(lp);
  const massWhere = (cond: Tensor) => op.reduceSum(op.where(cond, p, zero), [1], true); // [n, 1]
  const lo0 = op.sub(
    op.max(op.reduceMin(lp, [1], true), op.scalar(g, LOGP_FLOOR, 'float32')),
    op.scalar(g, 1, 'float32'),
  );
  const hi0 = op.reduceMax(lp, [1], true); // A(max) = 0 < top-p
  const [, vStar] = op.loop(g, {
    tripCount: 128, // float32 bisection over [-111, 0] ends within ~40 halvings; the cap only bounds a NaN row
    cond: op.cast(op.scalar(g, 1, 'int64'), 'bool'),
    carried: [lo0, hi0],
    name: 'nucleus_bisection',
    body: ({ graph: b, carried: [lo, hi] }) => {
      let open: Tensor | undefined;
      for (let i = 0; i < BISECTION_UNROLL; i++) {
        const mid = op.add(lo, op.mul(op.sub(hi, lo), op.scalar(b, 0.5, 'float32')));
        if (i === BISECTION_UNROLL - 1) open = op.and(op.greater(mid, lo), op.less(mid, hi)); // [n, 1]
        const holds = op.less(massWhere(op.greater(lp, mid)), topP);
        [lo, hi] = [op.where(holds, lo, mid), op.where(holds, mid, hi)];
      }
      return { cond: op.greater(op.reduceSum(op.cast(open!, 'int64')), op.scalar(b, 0, 'int64')), carried: [lo, hi] };
    },
  }).carried;
  const atLeast = op.greaterOrEqual(lp, vStar);
  // Every tied token is kept when the mass before the last of them, A(v*) + (ties - 1) p*, is below top-p.
  const allTies = op.less(op.sub(massWhere(atLeast), op.exp(vStar)), topP); // [n, 1]
  const [keep] = op.ifElse(
    g,
    op.equal(op.reduceMin(op.cast(allTies, 'int64')), op.scalar(g, 1, 'int64')),
    (b) => [local(b, atLeast)],
    (b) => {
      const [l, v, pp] = [local(b, lp), local(b, vStar), local(b, p)];
      const z = op.scalar(b, 0, 'float32');
      const [tie, above] = [op.equal(l, v), op.greater(l, v)];
      const tieBefore = op.cumSum(op.where(tie, pp, z), 1, { exclusive: true });
      const massAbove = op.reduceSum(op.where(above, pp, z), [1], true);
      return [op.or(above, op.and(tie, op.less(op.add(massAbove, tieBefore), local(b, topP))))];
    },
  );
  return inverseCdfByBlocks(op.where(keep, p, zero), u, vocab);
}

/**
 * The token whose running sum of `pk` [n, V] (vocabulary order) first exceeds u [n] times the total,
 * by blocks: the running sum of the block sums picks the block, the block's own running sum the
 * token; a threshold that rounds to the top takes the last token of positive mass.
 */
function inverseCdfByBlocks(pk: Tensor, u: Tensor, vocab: number): Tensor {
  const g = pk.graph;
  const L = CDF_BLOCK;
  const C = Math.ceil(vocab / L);
  const blocks = op.reshape(op.pad(pk, [0, 0, 0, C * L - vocab]), [-1, C, L]); // [n, C, L]
  const sums = op.reduceSum(blocks, [2]); // [n, C]
  const cum = op.cumSum(sums, 1);
  const thr = op.mul(op.unsqueeze(u, [1]), op.slice(cum, op.ints(g, [C - 1]), op.ints(g, [C]), [1])); // [n, 1]
  const lastPositive = (x: Tensor, n: number) =>
    op.reduceMax(
      op.where(
        op.greater(x, op.scalar(g, 0, 'float32')),
        op.range(op.scalar(g, 0, 'int64'), op.scalar(g, n, 'int64'), op.scalar(g, 1, 'int64')),
        op.scalar(g, -1, 'int64'),
      ),
      [1],
      true,
    ); // [n, 1]
  const below = (running: Tensor) => op.reduceSum(op.cast(op.lessOrEqual(running, thr), 'int64'), [1], true);
  const j = op.min(below(cum), lastPositive(sums, C)); // [n, 1]
  const before = op.gatherElements(op.cumSum(sums, 1, { exclusive: true }), j, 1); // [n, 1]
  const block = op.squeeze(op.gatherElements(blocks, op.expand(op.unsqueeze(j, [2]), [1, 1, L]), 1), [1]); // [n, L]
  const k = op.min(below(op.add(op.cumSum(block, 1), before)), lastPositive(block, L));
  return op.squeeze(op.add(op.mul(j, op.scalar(g, L, 'int64')), k), [1]);
}

/** Greedy (temperature <= 0) and the log-probabilities [B, V] under logits / temperature (1 when greedy). */
export function temperatureLogprobs(logits: Tensor, temperature: Tensor): { greedy: Tensor; logp: Tensor } {
  const g = logits.graph;
  const greedy = op.lessOrEqual(temperature, op.scalar(g, 0, 'float32'));
  const t = op.where(greedy, op.scalar(g, 1, 'float32'), temperature);
  return { greedy, logp: op.logSoftmax(op.div(logits, t), -1) };
}

/**
 * Next token from logits [B, V]: greedy when temperature <= 0, else top-p sampling by inverse CDF
 * with the given uniform noise [B]. Returns the token [B] and its log-probability [B] under the
 * temperature-scaled distribution before top-p truncation (temperature 1 when greedy).
 *
 * Nothing sorts the vocabulary (If branches, so only one path runs): greedy is an ArgMax; top-p = 1
 * walks the CDF in vocabulary order; top-p < 1 takes the TOP_P_CANDIDATES most likely tokens and
 * walks them in decreasing probability, and the rows whose candidates hold less than top-p of the
 * mass (with a margin for float rounding of the cumulative sum) find their nucleus by bisection
 * (sampleWideNucleus). Every path samples exactly from the top-p distribution; which path a row
 * takes depends on its logits only, and the CDF's order (vocabulary order on the top-p = 1 and
 * wide-nucleus paths) decides which token a given noise value selects.
 */
export function sampleToken(
  logits: Tensor,
  u: Tensor,
  temperature: Tensor,
  topP: Tensor,
  vocab: number,
): { token: Tensor; logp: Tensor } {
  const g = logits.graph;
  const { greedy, logp } = temperatureLogprobs(logits, temperature);
  const K = Math.min(vocab, TOP_P_CANDIDATES);
  const [token] = op.ifElse(
    g,
    greedy,
    (b) => [op.argMax(local(b, logits), -1)],
    (b) =>
      op.ifElse(
        b,
        op.greaterOrEqual(local(b, topP), op.scalar(b, 1, 'float32')),
        (b1) => {
          // The whole distribution in vocabulary order: no sort.
          const p = op.exp(local(b1, logp));
          const cum = op.cumSum(p, 1);
          const total = op.slice(cum, op.ints(b1, [vocab - 1]), op.ints(b1, [vocab]), [1]); // [B, 1]
          const thr = op.mul(op.unsqueeze(local(b1, u), [1]), total);
          const below = op.reduceSum(op.cast(op.lessOrEqual(cum, thr), 'int64'), [1]);
          return [op.min(below, op.scalar(b1, vocab - 1, 'int64'))];
        },
        (b1) => {
          const lp = local(b1, logp);
          const uu = local(b1, u);
          const tp = local(b1, topP);
          const [vals, idx] = op.topK(lp, K, -1, true, true);
          const pK = op.exp(vals);
          const fromK = sampleFromSorted(pK, idx, uu, tp);
          if (K === vocab) return [fromK];
          // Rows whose K candidates hold top-p of the mass (every later token then has a preceding
          // mass >= top-p, so it is not kept) are done; the others sort the whole vocabulary.
          const massK = op.reduceSum(pK, [1]);
          const short = op.less(massK, op.add(tp, op.scalar(b1, 1e-6, 'float32'))); // [B]
          const anyShort = op.greater(op.reduceSum(op.cast(short, 'int64'), [0]), op.scalar(b1, 0, 'int64'));
          return op.ifElse(
            b1,
            anyShort,
            (b2) => {
              const rows = op.transpose(op.emit1('NonZero', [local(b2, short)], 'int64', [1, null])); // [n, 1]
              const sub = op.gatherND(local(b2, lp), rows); // [n, V]
              const tok = sampleWideNucleus(sub, op.gatherND(local(b2, uu), rows), local(b2, tp), vocab);
              return [op.scatterND(local(b2, fromK), rows, tok)];
            },
            (b2) => [local(b2, fromK)],
          );
        },
      ),
  );
  const lp = op.squeeze(op.gatherElements(logp, op.unsqueeze(token, [1]), 1), [1]);
  return { token, logp: lp };
}

/**
 * generate: inputs `prompt` int64 [Bp, P] (the distinct prompts, LEFT-padded), `prompt_mask` [Bp, P],
 * `prompt_row` int64 [B] (each row's prompt: K samples of one prompt prefill it once), `noise` [B, N] uniform
 * in [0, 1) (N = max new tokens), `temperature`, `top_p`, `eos` int64 [E], `pad_id` int64 scalar,
 * `stop_seqs` int64 [S, L] (token sequences right-aligned, -1 = wildcard padding; S may be 0), and
 * `lora_scale` with LoRA. One prefill, then an ONNX Loop that samples and decodes one token per
 * iteration against the prompt's KV (read from outside the Loop) and a cache of N slots for the
 * generated tokens (carried, written by ScatterND); the loop ends when every row has emitted EOS or
 * a stop sequence. Outputs `tokens` [n, B] and
 * `logprobs` [n, B] (n <= N; after a row stops its tokens are pad_id with log-prob 0).
 */
export function buildGenerateProgram(model: ProgramModel, o: GenerateProgramOptions = {}): Graph {
  const c = model.config;
  const g = new Graph('generate');
  const prompts = g.input('prompt', 'int64', ['prompts', 'prompt_len']);
  const promptsMask = g.input('prompt_mask', 'float32', ['prompts', 'prompt_len']);
  const promptRow = g.input('prompt_row', 'int64', ['batch']);
  const noise = g.input('noise', 'float32', ['batch', 'max_new']);
  const temperature = g.input('temperature', 'float32', []);
  const topP = g.input('top_p', 'float32', []);
  const eos = g.input('eos', 'int64', ['n_eos']);
  const padId = g.input('pad_id', 'int64', []);
  const stopSeqs = g.input('stop_seqs', 'int64', ['n_stop', 'stop_len']);
  const scale = o.lora ? g.input('lora_scale', 'float32', []) : undefined;
  const m: DecoderParams = decoderParams(g, c, model.weights, o.lora && scale ? { config: o.lora, scale } : undefined);
  const i64s = (v: number) => op.scalar(g, v, 'int64');

  // Prefill, once per distinct prompt; each row then reads its prompt's keys and values (outside the
  // loop, read by every step without a copy).
  const { hidden, kv } = decoderForward(m, prompts, promptsMask);
  const perRow = (x: Tensor) => op.gather(x, promptRow, 0);
  const promptKV = kv.map((x) => ({ k: perRow(x.k), v: perRow(x.v) }));
  const promptMask = perRow(promptsMask);
  const P = op.dimOf(prompts, 1);
  const N = op.dimOf(noise, 1);
  const B = op.dimOf(promptRow, 0);
  const last = op.slice(hidden, op.reshape(op.sub(P, i64s(1)), [1]), op.reshape(P, [1]), [1]);
  const logits0 = perRow(op.squeeze(lmHead(m, last), [1])); // [B, V]
  const Hkv = c.numKvHeads;
  const D = c.headDim;
  const zero = op.scalar(g, 0, 'float32');
  const negInf = op.scalar(g, NEG_INF, 'float32');
  const promptBias = op.unsqueeze(op.where(op.cast(promptMask, 'bool'), zero, negInf), [1, 2]); // [B, 1, 1, P]
  // The generated tokens' keys and values: a cache of N slots per layer that the Loop carries and
  // each step writes one slot of (ScatterND). onnxruntime copies a carried tensor it updates, so
  // keeping the prompt out of it makes the per-step copy N slots long instead of P + N.
  const genShape = op.concat([op.reshape(B, [1]), op.ints(g, [Hkv]), op.reshape(N, [1]), op.ints(g, [D])], 0);
  const gen0 = op.constantOfShape(genShape, 0, 'float32');
  const cache0: Tensor[] = promptKV.flatMap(() => [gen0, gen0]);
  const genSlots = op.range(i64s(0), N, i64s(1)); // [N]
  const bhShape = op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, 1])], 0);
  // (b, h) grid for ScatterND indices [B, Hkv, 3].
  const bIdx = op.expand(op.reshape(op.range(i64s(0), B, i64s(1)), [-1, 1, 1]), bhShape);
  const hIdx = op.expand(op.reshape(op.range(i64s(0), i64s(Hkv), i64s(1)), [1, Hkv, 1]), bhShape);
  const bh = op.concat([bIdx, hIdx], 2); // [B, Hkv, 2]
  const pos0 = op.reduceSum(op.cast(promptMask, 'int64'), [1]); // [B] real prompt tokens
  const done0 = op.cast(op.constantOfShape(op.reshape(B, [1]), 0, 'int64'), 'bool');
  const L = op.dimOf(stopSeqs, 1);
  const hist0 = op.constantOfShape(op.concat([op.reshape(B, [1]), op.reshape(L, [1])], 0), -1, 'int64'); // [B, L]
  const stopCare = op.greaterOrEqual(stopSeqs, i64s(0)); // [S, L]
  const V = c.vocabSize;

  /** Sampling, EOS and stop-sequence bookkeeping of one step. */
  const advance = (logits: Tensor, done: Tensor, hist: Tensor, t: Tensor) => {
    const u = op.squeeze(op.gather(noise, op.reshape(t, [1]), 1), [1]); // [B]
    const s = sampleToken(logits, u, temperature, topP, V);
    const token = op.where(done, padId, s.token);
    const logp = op.where(done, op.scalar(g, 0, 'float32'), s.logp);
    // A sum, not a max: the EOS list may be empty.
    const isEos = op.greater(
      op.reduceSum(op.cast(op.equal(op.unsqueeze(token, [1]), op.unsqueeze(eos, [0])), 'int64'), [1]),
      i64s(0),
    );
    // Stop sequences: compare the last L tokens with each (right-aligned) sequence.
    const histNext = op.concat([op.slice(hist, op.ints(g, [1]), op.reshape(L, [1]), [1]), op.unsqueeze(token, [1])], 1);
    const eq = op.or(
      op.equal(op.unsqueeze(histNext, [1]), op.unsqueeze(stopSeqs, [0])),
      op.not(op.unsqueeze(stopCare, [0])),
    ); // [B, S, L]
    const matchAll = op.reduceMin(op.cast(eq, 'int64'), [2]); // [B, S] (1 when S > 0 and all match)
    const isStop = op.greater(op.reduceSum(matchAll, [1]), i64s(0)); // [B]
    const doneNext = op.or(done, op.or(isEos, isStop));
    return { token, logp, doneNext, histNext, active: op.not(done) };
  };
  const allDone = (done: Tensor) => op.cast(op.reduceMin(op.cast(done, 'int64'), [0]), 'bool');
  const res = op.loop(g, {
    tripCount: N,
    cond: op.cast(op.scalar(g, 1, 'int64'), 'bool'),
    carried: [logits0, done0, hist0, ...cache0],
    name: 'decode',
    body: ({ iter, carried }) => {
      const [logits, done, hist] = carried;
      const a = advance(logits, done, hist, iter);
      const slotIndex = op.concat([bh, op.expand(op.reshape(iter, [1, 1, 1]), bhShape)], 2); // [B, Hkv, 3]
      const genBias = op.reshape(op.where(op.lessOrEqual(genSlots, iter), zero, negInf), [1, 1, 1, -1]); // [1, 1, 1, N]
      const gen: LayerKV[] = [];
      const attention = cachedAttention(c, (l, k, v) => {
        const kc = op.scatterND(carried[3 + 2 * l], slotIndex, k);
        const vc = op.scatterND(carried[4 + 2 * l], slotIndex, v);
        gen.push({ k: kc, v: vc });
        return [
          { ...promptKV[l], bias: promptBias },
          { k: kc, v: vc, bias: genBias },
        ];
      });
      const h = decoderLayers(m, op.unsqueeze(a.token, [1]), op.unsqueeze(op.add(pos0, iter), [1]), attention);
      return {
        cond: op.not(allDone(a.doneNext)),
        carried: [op.squeeze(lmHead(m, h), [1]), a.doneNext, a.histNext, ...gen.flatMap((x) => [x.k, x.v])],
        scans: [a.token, a.logp, a.active],
      };
    },
  });
  const scans = res.scans;
  g.output('tokens', scans[0]);
  g.output('logprobs', scans[1]);
  g.output('active', scans[2]);
  return g;
}

export interface GenerateRequest {
  /** Record id: with the seed and the token position it determines the sampling noise. */
  id: string;
  /** Prompt token ids (at least one), or text encoded with the model tokenizer (its BOS added if it adds one). */
  prompt: number[] | string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy (default 1). */
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Stop strings: generation of a row ends once its text contains one; the text is cut before it. */
  stop?: string[];
  /** End-of-sequence ids (default: the model's). */
  eos?: number[];
  /** Switch the LoRA adapter off (the reference policy). */
  adapter?: boolean;
}

export interface Generation {
  id: string;
  /** Sampled tokens, up to and including the EOS token or the token that completed a stop string. */
  tokens: number[];
  /** log-prob of each sampled token under the temperature-scaled distribution (before top-p). */
  logprobs: number[];
  /** Decoded text without EOS or the stop string (and without a trailing incomplete UTF-8 character). */
  text: string;
  finishReason: 'eos' | 'stop' | 'length';
}

/**
 * The generate program on a runner: one run per batch; sampling noise depends only on (seed,
 * record id, token position), so a record's sample does not depend on its batch.
 */
export class GenerateProgram {
  private constructor(
    readonly runner: Runner,
    readonly name: string,
    readonly model: ProgramModel,
    readonly tokenizer: TextTokenizer | undefined,
    readonly eos: number[],
    readonly lora?: LoraConfig,
  ) {}

  static async create(
    runner: Runner,
    model: ProgramModel & { tokenizer?: TextTokenizer; generationConfig?: Record<string, unknown> },
    o: GenerateProgramOptions & { name?: string; eos?: number[] } = {},
  ): Promise<GenerateProgram> {
    const name = o.name ?? `generate${o.lora ? '+lora' : ''}`;
    await loadProgram(runner, name, buildGenerateProgram(model, o));
    const eos = o.eos ?? eosTokenIds(model);
    return new GenerateProgram(runner, name, model, model.tokenizer, eos, o.lora);
  }

  async setAdapter(w: LoraWeights): Promise<void> {
    await this.runner.setState(asParamState(w));
  }

  /** Runs the program; returns raw token and log-prob rows (before stop-string trimming). */
  async run(reqs: GenerateRequest[], o: GenerateOptions): Promise<{ tokens: number[][]; logprobs: number[][] }> {
    const B = reqs.length;
    const N = o.maxNewTokens;
    if (!(N >= 1)) throw new Error('generate: maxNewTokens must be at least 1');
    const prompts = reqs.map((r, i) => {
      let p: number[];
      if (typeof r.prompt === 'string') {
        if (!this.tokenizer)
          throw new Error(`generate: request ${i} (${r.id}) gives text but the model has no tokenizer`);
        p = this.tokenizer.encode(r.prompt, { addSpecialTokens: true }); // as transformers tokenizes a prompt
      } else p = r.prompt;
      if (!p.length) throw new Error(`generate: request ${i} (${r.id}) has an empty prompt`);
      return p;
    });
    checkTokens('generate', prompts, this.model.config.vocabSize);
    const temperature = o.temperature ?? 1;
    const topP = o.topP ?? 1;
    if (!(temperature >= 0)) throw new Error(`generate: temperature must be >= 0, got ${temperature}`);
    if (!(topP > 0 && topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${topP}`);
    const pad = this.model.config.padTokenId ?? this.tokenizer?.padTokenId ?? 0;
    const distinct = new Map<string, number>();
    const unique: number[][] = [];
    const promptRow = prompts.map((p) => {
      const key = p.join(',');
      let row = distinct.get(key);
      if (row === undefined) {
        distinct.set(key, (row = unique.length));
        unique.push(p);
      }
      return row;
    });
    const b = padBatch(unique, 'left', pad);
    checkSequenceLength(this.model.config, b.width + N);
    const noise = new Float32Array(B * N);
    reqs.forEach((r, i) => noise.set(samplingNoise(o.seed ?? 0, r.id, N), i * N));
    const eos = o.eos ?? this.eos;
    const stopSeqs = (o.stop ?? []).map((s) => this.tokenizer?.encode(s) ?? []).filter((x) => x.length > 0);
    const Ls = Math.max(1, ...stopSeqs.map((s) => s.length));
    const st = new Array<number>(stopSeqs.length * Ls).fill(-1);
    stopSeqs.forEach((s, i) => s.forEach((v, j) => (st[i * Ls + Ls - s.length + j] = v)));
    const feeds: Record<string, TensorData> = {
      prompt: b.tokens,
      prompt_mask: b.mask,
      prompt_row: i64([B], promptRow),
      noise: f32([B, N], noise),
      temperature: scalarF32(temperature),
      top_p: scalarF32(topP),
      eos: i64([eos.length], eos),
      pad_id: i64([], [pad]),
      stop_seqs: i64([stopSeqs.length, Ls], st),
    };
    if (this.lora) feeds.lora_scale = scalarF32(o.adapter === false ? 0 : loraScale(this.lora));
    const r = await this.runner.run(this.name, feeds);
    const tok = r.outputs.tokens.data as BigInt64Array;
    const lp = r.outputs.logprobs.data as Float32Array;
    const active = r.outputs.active.data as Uint8Array;
    // Steps up to the last one where some row was still generating, at most N.
    let n = Math.min(N, r.outputs.tokens.shape[0]);
    while (n > 0 && !active.subarray((n - 1) * B, n * B).some((x) => x)) n--;
    const tokens: number[][] = reqs.map(() => []);
    const logprobs: number[][] = reqs.map(() => []);
    for (let t = 0; t < n; t++)
      for (let i = 0; i < B; i++) {
        tokens[i].push(Number(tok[t * B + i]));
        logprobs[i].push(lp[t * B + i]);
      }
    return { tokens, logprobs };
  }

  async generate(reqs: GenerateRequest[], o: GenerateOptions): Promise<Generation[]> {
    if (!reqs.length) return [];
    const raw = await this.run(reqs, o);
    const eos = new Set(o.eos ?? this.eos);
    return reqs.map((r, i) => finishRow(r.id, raw.tokens[i], raw.logprobs[i], eos, o.stop ?? [], this.tokenizer));
  }
}

/** Cuts a raw row at its first EOS or stop string and decodes it. */
export function finishRow(
  id: string,
  rowTokens: number[],
  rowLogprobs: number[],
  eos: Set<number>,
  stop: string[],
  tokenizer?: TextTokenizer,
): Generation {
  let end = rowTokens.findIndex((t) => eos.has(t));
  let reason: Generation['finishReason'] = end >= 0 ? 'eos' : 'length';
  const body = end >= 0 ? rowTokens.slice(0, end) : rowTokens;
  if (end < 0) end = rowTokens.length;
  else end += 1;
  if (!tokenizer)
    return { id, tokens: rowTokens.slice(0, end), logprobs: rowLogprobs.slice(0, end), text: '', finishReason: reason };
  let text = tokenizer.decodeComplete(body, { skipSpecialTokens: true }).text;
  if (stop.length) {
    let cut = -1;
    for (const s of stop) {
      const k = text.indexOf(s);
      if (k >= 0 && (cut < 0 || k < cut)) cut = k;
    }
    if (cut >= 0) {
      // The shortest token prefix whose text holds the stop string.
      const hit = (n: number) => {
        const tx = tokenizer.decodeComplete(body.slice(0, n), { skipSpecialTokens: true }).text;
        return stop.some((s) => tx.includes(s));
      };
      let lo = 1;
      let hi = body.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (hit(mid)) hi = mid;
        else lo = mid + 1;
      }
      end = lo;
      reason = 'stop';
      text = text.slice(0, cut);
    }
  }
  return { id, tokens: rowTokens.slice(0, end), logprobs: rowLogprobs.slice(0, end), text, finishReason: reason };
}
