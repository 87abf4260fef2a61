import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SchemaError, schemas } from '../schemas';
import { generatedFiles } from '../schemas/generate';
import { resolveRewriterSettings } from '../schemas/rewriter-presets';

test('the committed generated validators and types match the schemas (run `npm run gen:schemas`)', () => {
  for (const [name, text] of Object.entries(generatedFiles())) {
    const committed = readFileSync(join(import.meta.dirname, '..', 'schemas', 'generated', name), 'utf8');
    assert.ok(committed === text, `schemas/generated/${name} is stale: run \`npm run gen:schemas\``);
  }
});

test('the validators run no code generation at run time', () => {
  const code = readFileSync(join(import.meta.dirname, '..', 'schemas', 'generated', 'validators.cjs'), 'utf8');
  assert.doesNotMatch(code, /new Function|eval\(/);
});

test('issues name the JSON path and the rule; defaults are filled on a copy', () => {
  const given = { source: 'x.jsonl', split: { testFraction: 1.5 }, mapp: {} };
  const r = schemas.importDatasetInput.check(given);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.issues.map((i) => [i.path, i.rule]),
    [
      ['$.mapp', 'additionalProperties'],
      ['$.split.testFraction', 'maximum'],
    ],
  );
  const ok = schemas.importDatasetInput.parse({ source: 'x.jsonl' });
  assert.deepEqual(ok.map, { question: 'question', answer: 'answer' });
  assert.equal(ok.maxBadFraction, 0);
  assert.throws(
    () => schemas.datasetRecord.parse({ id: 'a', question: '' }),
    (e: unknown) => {
      assert.ok(e instanceof SchemaError);
      assert.match(e.message, /\$\.question: must NOT have fewer than 1 characters \(minLength\)/);
      assert.match(e.message, /\$\.answer: must have required property 'answer' \(required\)/);
      return true;
    },
  );
});

test("the pipeline config: the rewriter's paper preset carries the paper defaults", () => {
  const c = schemas.pipelineConfig.parse({
    backbone: { uri: 'artifact://models/base' },
    dataset: 'artifact://datasets/x',
    benchmarks: [{ name: 'arith', data: 'artifact://bench/arith.jsonl', extractor: { kind: 'boxed' } }],
    rewriter: { preset: 'paper' },
  });
  const s = resolveRewriterSettings(c.rewriter);
  assert.equal(s.lora.rank, 64);
  assert.equal(s.lora.alpha, 32);
  assert.equal(s.lambdaDist, 0.35);
  assert.equal(s.lambdaDiv, 0.5);
  assert.equal(s.groupSize, 5);
  assert.equal(s.clip, 0.2);
  assert.equal(s.klCoef, 0.001);
  assert.equal(s.learningRate, 3e-6);
  assert.equal(s.weightDecay, 0.01);
  assert.equal(s.promptsPerStep, 504);
  assert.deepEqual([c.fallback, c.seeds, c.rewrite.samples, c.rewrite.matchedCap], ['original', [0], 4, 16]);
  assert.equal(c.benchmarks![0].promptFormat, 'Problem:\n{question}\n\nAnswer:\n');
  const bad = schemas.pipelineConfig.check({
    backbone: { uri: 'm' },
    dataset: 'd',
    benchmarks: [{ name: 'bad name!', data: 'x', extractor: { kind: 'magic' } }],
  });
  assert.equal(bad.ok, false);
  if (!bad.ok)
    assert.deepEqual(bad.issues.map((i) => i.path).sort(), ['$.benchmarks[0].extractor.kind', '$.benchmarks[0].name']);
});

test("every workflow input the README shows is valid under its workflow's schema", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map(
    (m) => JSON.parse(m[1]) as Record<string, unknown>,
  );
  // which workflow each example is for, told by a field only its input has
  const schemaOf = (b: Record<string, unknown>) =>
    'source' in b
      ? schemas.importDatasetInput
      : 'benchmarks' in b || 'arms' in b
        ? schemas.pipelineConfig
        : 'rlSeed' in b
          ? schemas.trainRewriterInput
          : undefined;
  assert.ok(
    blocks.some((b) => schemaOf(b) === schemas.pipelineConfig),
    'the pipeline example on your own model',
  );
  for (const b of blocks) {
    const checker = schemaOf(b);
    assert.ok(checker, `a README example no schema is known for: ${JSON.stringify(b)}`);
    const r = checker.check(b);
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  }
});
