// Batches for training. Every epoch the examples are shuffled (seeded) and cut into batches, whose
// order is shuffled again; the position {epoch, index of the next batch} is all a checkpoint needs.
// Two ways to cut padding (a batch is as long as its longest example):
// - length buckets: examples up to each bound form their own batches, so a batch of short examples
//   never pads to a long one, while inside a bucket batches stay random mixtures of tasks;
// - length groups: inside a bucket, groups of `groupBatches` batches are sorted by length before they
//   are cut. Less padding, but a batch then holds examples of one length, often of one task, which
//   slows learning (measured on the default world: loss 0.74 vs 0.52 after 300 steps); 1 = random.
import { epochRng, shuffle, type DataPosition } from '../engine/rng';

export class LengthGroupedBatches {
  position: DataPosition = { epoch: 0, index: 0 };
  private epochBatches: number[][] = [];
  private builtFor = -1;

  constructor(
    readonly lengths: number[],
    readonly batchSize: number,
    readonly seed: number,
    readonly groupBatches = 32,
    /** Ascending upper bounds of the length buckets (longer examples form the last bucket). */
    readonly bucketBounds: number[] = [],
  ) {
    if (lengths.length === 0) throw new Error('LengthGroupedBatches: no examples');
  }

  private bucketOf(length: number): number {
    const b = this.bucketBounds.findIndex((bound) => length <= bound);
    return b < 0 ? this.bucketBounds.length : b;
  }

  /** The batches of one epoch, a pure function of (seed, epoch). */
  batchesOf(epoch: number): number[][] {
    if (epoch === this.builtFor) return this.epochBatches;
    const rng = epochRng(this.seed, epoch);
    const order = shuffle([...this.lengths.keys()], rng);
    const buckets: number[][] = Array.from({ length: this.bucketBounds.length + 1 }, () => []);
    for (const i of order) buckets[this.bucketOf(this.lengths[i])].push(i);
    const group = this.batchSize * this.groupBatches;
    const batches: number[][] = [];
    for (const bucket of buckets)
      for (let g = 0; g < bucket.length; g += group) {
        const sorted = bucket.slice(g, g + group);
        if (this.groupBatches > 1) sorted.sort((a, b) => this.lengths[b] - this.lengths[a] || a - b);
        for (let i = 0; i < sorted.length; i += this.batchSize) batches.push(sorted.slice(i, i + this.batchSize));
      }
    this.epochBatches = shuffle(batches, rng);
    this.builtFor = epoch;
    return this.epochBatches;
  }

  next(): number[] {
    const batches = this.batchesOf(this.position.epoch);
    const batch = batches[this.position.index];
    this.position =
      this.position.index + 1 === batches.length
        ? { epoch: this.position.epoch + 1, index: 0 }
        : { epoch: this.position.epoch, index: this.position.index + 1 };
    return batch;
  }
}
