import { Graph, type Tensor, type TensorData } from '../graph';
import * as op from '../ops';
import type { Runner } from '../runner';
import { checkSequenceLength } from '../model/config';
import {
  type LayerKV,
  type DecoderParams,
  decodeStep,
  decodeStepChunked,
  decoderForward,
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
  /**
   * Decode steps per KV-cache chunk (default 1 = one cache written every step). With C > 1 the steps
   * of a chunk write a small cache merged into the big one once per chunk (a Loop nested in a Loop),
   * dividing onnxruntime's per-step cache copies by C; the run may compute up to C - 1 steps past the
   * point where every row is done. Measured here it was 5% faster at batch 64 x 128-token prompts but
   * 35% slower at 16 x 256 and 3x slower for a 0.5B model at batch 2 (the nested Loop costs more
   * than the copies it saves), so it is off by default.
   */
  cacheChunk?: number;
}

/**
 * Next token from logits [B, V]: greedy when temperature <= 0, else top-p sampling by inverse CDF
 * with the given uniform noise [B]. Returns the token [B] and its log-probability [B] under the
 * temperature-scaled distribution before top-p truncation (temperature 1 when greedy).
 */
export function sampleToken(
  logits: Tensor,
  u: Tensor,
  temperature: Tensor,
  topP: Tensor,
  vocab: number,
): { token: Tensor; logp: Tensor } {
  const g = logits.graph;
  const greedy = op.lessOrEqual(temperature, op.scalar(g, 0, 'float32'));
  const t = op.where(greedy, op.scalar(g, 1, 'float32'), temperature);
  const logp = op.logSoftmax(op.div(logits, t), -1);
  const [vals, idx] = op.topK(logp, vocab, -1, true, true);
  const p = op.exp(vals);
  const cum = op.cumSum(p, 1);
  const keep = op.less(op.sub(cum, p), topP); // always keeps the most likely token
  const pk = op.where(keep, p, op.scalar(g, 0, 'float32'));
  const total = op.reduceSum(pk, [1], true);
  const thr = op.mul(op.unsqueeze(u, [1]), total);
  const below = op.reduceSum(op.cast(op.lessOrEqual(op.cumSum(pk, 1), thr), 'int64'), [1], true);
  const nKeep = op.reduceSum(op.cast(keep, 'int64'), [1], true);
  const k = op.min(below, op.sub(nKeep, op.scalar(g, 1, 'int64')));
  const sampled = op.squeeze(op.gatherElements(idx, k, 1), [1]);
  const token = op.where(greedy, op.argMax(logits, -1), sampled);
  const lp = op.squeeze(op.gatherElements(logp, op.unsqueeze(token, [1]), 1), [1]);
  return { token, logp: lp };
}

/**
 * generate: inputs `prompt` int64 [B, P] (LEFT-padded), `prompt_mask` [B, P], `noise` [B, N] uniform
 * in [0, 1) (N = max new tokens), `temperature`, `top_p`, `eos` int64 [E], `pad_id` int64 scalar,
 * `stop_seqs` int64 [S, L] (token sequences right-aligned, -1 = wildcard padding; S may be 0), and
 * `lora_scale` with LoRA. One prefill, then an ONNX Loop that samples and decodes one token per
 * iteration against a KV cache pre-allocated for P + N slots and written in place by ScatterND; the
 * loop ends when every row has emitted EOS or a stop sequence. Outputs `tokens` [n, B] and
 * `logprobs` [n, B] (n <= N; after a row stops its tokens are pad_id with log-prob 0).
 */
export function buildGenerateProgram(model: ProgramModel, o: GenerateProgramOptions = {}): Graph {
  const c = model.config;
  const g = new Graph('generate');
  const prompt = g.input('prompt', 'int64', ['batch', 'prompt_len']);
  const promptMask = g.input('prompt_mask', 'float32', ['batch', 'prompt_len']);
  const noise = g.input('noise', 'float32', ['batch', 'max_new']);
  const temperature = g.input('temperature', 'float32', []);
  const topP = g.input('top_p', 'float32', []);
  const eos = g.input('eos', 'int64', ['n_eos']);
  const padId = g.input('pad_id', 'int64', []);
  const stopSeqs = g.input('stop_seqs', 'int64', ['n_stop', 'stop_len']);
  const scale = o.lora ? g.input('lora_scale', 'float32', []) : undefined;
  const m: DecoderParams = decoderParams(g, c, model.weights, o.lora && scale ? { config: o.lora, scale } : undefined);
  const i64s = (v: number) => op.scalar(g, v, 'int64');

  // Prefill.
  const { hidden, kv } = decoderForward(m, prompt, promptMask);
  const P = op.dimOf(prompt, 1);
  const N = op.dimOf(noise, 1);
  const B = op.dimOf(prompt, 0);
  const last = op.slice(hidden, op.reshape(op.sub(P, i64s(1)), [1]), op.reshape(P, [1]), [1]);
  const logits0 = op.squeeze(lmHead(m, last), [1]); // [B, V]
  const Hkv = c.numKvHeads;
  const D = c.headDim;
  const zerosKV = op.constantOfShape(
    op.concat([op.reshape(B, [1]), op.ints(g, [Hkv]), op.reshape(N, [1]), op.ints(g, [D])], 0),
    0,
    'float32',
  );
  const cache0: Tensor[] = kv.flatMap((l) => [op.concat([l.k, zerosKV], 2), op.concat([l.v, zerosKV], 2)]);
  // Key validity over the P + N slots: the prompt's real tokens, then generated slots up to the current one.
  const S = op.add(P, N);
  const slots = op.range(i64s(0), S, i64s(1)); // [S]
  const promptValid = op.concat(
    [
      op.cast(promptMask, 'bool'),
      op.cast(op.constantOfShape(op.concat([op.reshape(B, [1]), op.reshape(N, [1])], 0), 0, 'int64'), 'bool'),
    ],
    1,
  ); // [B, S]
  const isGenSlot = op.greaterOrEqual(slots, P); // [S]
  // (b, h) grid for ScatterND indices [B, Hkv, 3].
  const bIdx = op.expand(
    op.reshape(op.range(i64s(0), B, i64s(1)), [-1, 1, 1]),
    op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, 1])], 0),
  );
  const hIdx = op.expand(
    op.reshape(op.range(i64s(0), i64s(Hkv), i64s(1)), [1, Hkv, 1]),
    op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, 1])], 0),
  );
  const bh = op.concat([bIdx, hIdx], 2); // [B, Hkv, 2]
  const pos0 = op.reduceSum(op.cast(promptMask, 'int64'), [1]); // [B] real prompt tokens
  const done0 = op.cast(op.constantOfShape(op.reshape(B, [1]), 0, 'int64'), 'bool');
  const L = op.dimOf(stopSeqs, 1);
  const hist0 = op.constantOfShape(op.concat([op.reshape(B, [1]), op.reshape(L, [1])], 0), -1, 'int64'); // [B, L]
  const stopCare = op.greaterOrEqual(stopSeqs, i64s(0)); // [S, L]
  const V = c.vocabSize;

  /** Sampling, EOS and stop-sequence bookkeeping of one step (shared by both cache layouts). */
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
  const bhShape = op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, 1])], 0);
  const slotIndexAt = (slot: Tensor) => op.concat([bh, op.expand(op.reshape(slot, [1, 1, 1]), bhShape)], 2);
  const zero = op.scalar(g, 0, 'float32');
  const negInf = op.scalar(g, NEG_INF, 'float32');
  const chunk = o.cacheChunk ?? 1;
  let scans: Tensor[];
  if (chunk <= 1) {
    const res = op.loop(g, {
      tripCount: N,
      cond: op.cast(op.scalar(g, 1, 'int64'), 'bool'),
      carried: [logits0, done0, hist0, ...cache0],
      name: 'decode',
      body: ({ iter, carried }) => {
        const [logits, done, hist] = carried;
        const cache: LayerKV[] = [];
        for (let l = 0; l < c.numLayers; l++) cache.push({ k: carried[3 + 2 * l], v: carried[4 + 2 * l] });
        const a = advance(logits, done, hist, iter);
        const slot = op.add(P, iter);
        const valid = op.or(promptValid, op.unsqueeze(op.and(isGenSlot, op.lessOrEqual(slots, slot)), [0])); // [B, S]
        const step = decodeStep(m, {
          token: op.unsqueeze(a.token, [1]),
          position: op.unsqueeze(op.add(pos0, iter), [1]),
          cache,
          slotIndex: slotIndexAt(slot),
          bias: op.unsqueeze(op.where(valid, zero, negInf), [1, 2]),
        });
        return {
          cond: op.not(allDone(a.doneNext)),
          carried: [
            op.squeeze(lmHead(m, step.hidden), [1]),
            a.doneNext,
            a.histNext,
            ...step.cache.flatMap((x) => [x.k, x.v]),
          ],
          scans: [a.token, a.logp, a.active],
        };
      },
    });
    scans = res.scans;
  } else {
    // Two-level cache: the steps of a chunk write a small [B, Hkv, C, D] cache and read the big one
    // (outer scope, no copy); the chunk is written into the big cache once at its end. onnxruntime
    // copies a Loop-carried tensor that ScatterND updates, so this divides the copying by C.
    const C = chunk;
    const nChunks = op.div(N, i64s(C)); // the caller pads N to a multiple of C
    const smallShape = op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, C, D])], 0);
    const cSlots = op.range(i64s(0), i64s(C), i64s(1)); // [C]
    const bhC = op.expand(op.unsqueeze(bh, [2]), op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, C, 2])], 0)); // [B, Hkv, C, 2]
    const res = op.loop(g, {
      tripCount: nChunks,
      cond: op.cast(op.scalar(g, 1, 'int64'), 'bool'),
      carried: [logits0, done0, hist0, ...cache0],
      name: 'decode_chunk',
      body: ({ iter: ci, carried }) => {
        const [logits, done, hist] = carried;
        const big: LayerKV[] = [];
        for (let l = 0; l < c.numLayers; l++) big.push({ k: carried[3 + 2 * l], v: carried[4 + 2 * l] });
        const start = op.mul(ci, i64s(C));
        const bigValid = op.or(promptValid, op.unsqueeze(op.and(isGenSlot, op.less(slots, op.add(P, start))), [0]));
        const bigBias = op.unsqueeze(op.where(bigValid, zero, negInf), [1, 2]); // [B, 1, 1, S]
        const small0 = op.constantOfShape(smallShape, 0, 'float32');
        const inner = op.loop(ci.graph, {
          tripCount: C,
          carried: [logits, done, hist, ...big.flatMap(() => [small0, small0])],
          name: 'decode_step',
          body: ({ iter: j, carried: ic }) => {
            const a = advance(ic[0], ic[1], ic[2], op.add(start, j));
            const small: LayerKV[] = [];
            for (let l = 0; l < c.numLayers; l++) small.push({ k: ic[3 + 2 * l], v: ic[4 + 2 * l] });
            const smallBias = op.reshape(op.where(op.lessOrEqual(cSlots, j), zero, negInf), [1, 1, 1, C]);
            const step = decodeStepChunked(m, {
              token: op.unsqueeze(a.token, [1]),
              position: op.unsqueeze(op.add(pos0, op.add(start, j)), [1]),
              big,
              bigBias,
              small,
              slotIndex: op.concat([bh, op.expand(op.reshape(j, [1, 1, 1]), bhShape)], 2),
              smallBias,
            });
            return {
              carried: [
                op.squeeze(lmHead(m, step.hidden), [1]),
                a.doneNext,
                a.histNext,
                ...step.small.flatMap((x) => [x.k, x.v]),
              ],
              scans: [a.token, a.logp, a.active],
            };
          },
        });
        const [lg, dn, hs, ...smallOut] = inner.carried;
        const idx = op.concat(
          [
            bhC,
            op.expand(
              op.reshape(op.add(op.add(P, start), cSlots), [1, 1, C, 1]),
              op.concat([op.reshape(B, [1]), op.ints(g, [Hkv, C, 1])], 0),
            ),
          ],
          3,
        ); // [B, Hkv, C, 3]
        const bigNext = big.flatMap((x, l) => [
          op.scatterND(x.k, idx, smallOut[2 * l]),
          op.scatterND(x.v, idx, smallOut[2 * l + 1]),
        ]);
        return { cond: op.not(allDone(dn)), carried: [lg, dn, hs, ...bigNext], scans: inner.scans };
      },
    });
    const flat = (x: Tensor) => op.reshape(x, op.concat([op.ints(g, [-1]), op.shapeOf(x, 2, 3)], 0));
    scans = res.scans.map(flat);
  }
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
    readonly cacheChunk = 1,
  ) {}

  static async create(
    runner: Runner,
    model: ProgramModel & { tokenizer?: TextTokenizer; generationConfig?: Record<string, unknown> },
    o: GenerateProgramOptions & { name?: string; eos?: number[] } = {},
  ): Promise<GenerateProgram> {
    const name = o.name ?? `generate${o.lora ? '+lora' : ''}`;
    await loadProgram(runner, name, buildGenerateProgram(model, o));
    const eos = o.eos ?? eosTokenIds(model);
    return new GenerateProgram(runner, name, model, model.tokenizer, eos, o.lora, Math.max(1, o.cacheChunk ?? 1));
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
    const b = padBatch(prompts, 'left', pad);
    checkSequenceLength(this.model.config, b.width + N);
    // The program runs whole cache chunks: pad the step count (the extra steps are dropped).
    const NC = Math.ceil(N / this.cacheChunk) * this.cacheChunk;
    const noise = new Float32Array(B * NC);
    reqs.forEach((r, i) => noise.set(samplingNoise(o.seed ?? 0, r.id, NC), i * NC));
    const eos = o.eos ?? this.eos;
    const stopSeqs = (o.stop ?? []).map((s) => this.tokenizer?.encode(s) ?? []).filter((x) => x.length > 0);
    const Ls = Math.max(1, ...stopSeqs.map((s) => s.length));
    const st = new Array<number>(stopSeqs.length * Ls).fill(-1);
    stopSeqs.forEach((s, i) => s.forEach((v, j) => (st[i * Ls + Ls - s.length + j] = v)));
    const feeds: Record<string, TensorData> = {
      prompt: b.tokens,
      prompt_mask: b.mask,
      noise: f32([B, NC], noise),
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
