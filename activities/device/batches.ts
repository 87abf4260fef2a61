// Batches of similar length: every epoch the examples are shuffled (seeded), cut into groups of
// `groupBatches` batches, sorted by length inside each group and split into batches, whose order is
// shuffled again. Padding shrinks (a batch is as long as its longest example) while the data stays
// well mixed. The position {epoch, index of the next batch} is all a checkpoint needs.
import { Rng, type DataPosition } from '../../engine/rng';

function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

export class LengthGroupedBatches {
  position: DataPosition = { epoch: 0, index: 0 };
  private epochBatches: number[][] = [];
  private builtFor = -1;

  constructor(
    readonly lengths: number[],
    readonly batchSize: number,
    readonly seed: number,
    readonly groupBatches = 32,
  ) {
    if (lengths.length === 0) throw new Error('LengthGroupedBatches: no examples');
  }

  /** The batches of one epoch, a pure function of (seed, epoch). */
  batchesOf(epoch: number): number[][] {
    if (epoch === this.builtFor) return this.epochBatches;
    const rng = new Rng((this.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
    const order = shuffle([...this.lengths.keys()], rng);
    const group = this.batchSize * this.groupBatches;
    const batches: number[][] = [];
    for (let g = 0; g < order.length; g += group) {
      const sorted = order.slice(g, g + group).sort((a, b) => this.lengths[b] - this.lengths[a] || a - b);
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
