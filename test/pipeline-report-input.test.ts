import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SchemaError, schemas } from '../schemas';

const evaluation = [{ benchmark: 'arithmetic', role: 'general', uri: 'evaluations/a' }];
const run = {
  seed: 0,
  backbone: 'world-seed-0',
  base: evaluation,
  arms: { vanilla: { evaluation, dataset: 'data/v.jsonl', score: { meanNll: 3.8, tokens: 100, records: 10 } } },
};

test('pipelineReport input: defaults filled in (fallback original, vanilla the reference, rl the method)', () => {
  const v = schemas.pipelineReportInput.parse({ runs: [run] });
  assert.equal(v.name, 'pipeline');
  assert.equal(v.fallback, 'original');
  assert.equal(v.reference, 'vanilla');
  assert.equal(v.method, 'rl');
  assert.equal(v.resamples, 2000);
});

test('pipelineReport input: a bad value is refused naming its field', () => {
  const bad = (given: unknown, path: RegExp) =>
    assert.throws(
      () => schemas.pipelineReportInput.parse(given),
      (e: unknown) => e instanceof SchemaError && e.issues.some((i) => path.test(i.path)),
    );
  bad({ runs: [run], fallback: 'keep' }, /^\$\.fallback$/);
  bad(
    { runs: [{ ...run, arms: { vanilla: { ...run.arms.vanilla, dataset: '../x' } } }] },
    /^\$\.runs\[0\]\.arms\.vanilla\.dataset$/,
  );
  bad({ runs: [{ ...run, arms: { 'bad arm': run.arms.vanilla } }] }, /^\$\.runs\[0\]\.arms/);
  bad({ runs: [run], passAtK: [{ arm: 'rl', k: 0, passRate: 0.5 }] }, /^\$\.passAtK\[0\]\.k$/);
  bad({ runs: [] }, /^\$\.runs$/);
});
