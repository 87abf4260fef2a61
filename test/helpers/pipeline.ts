// What the pipeline tests (real and mocked) assert alike about a pipeline's result.
import assert from 'node:assert/strict';
import type { PipelineOutput } from '../../workflows/pipeline';

/** Every stage of every fine-tuned arm came back reused: its data, builder, score, SFT and evaluation. */
export function assertEveryStageReused(out: PipelineOutput): void {
  for (const a of out.arms) {
    assert.equal(a.data.reused, true, a.arm);
    if (a.builder) assert.equal(a.builder.reused, true, a.arm);
    assert.equal(a.score.reused, true, a.arm);
    assert.equal(a.sft.reused, true, a.arm);
    assert.ok(
      a.evaluation.results.every((r) => r.reused),
      a.arm,
    );
  }
}
