import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SchemaError, schemas } from '../schemas';
import type { ValidateFunction } from 'ajv';
import { generatedFiles, schemaEntries, validatorName, withoutDocs, WORKFLOW_SCHEMA_FILES } from '../schemas/generate';
import { schemas as workflowSchemas } from '../schemas/workflow';
import { resolveRewriterSettings } from '../schemas/rewriter-presets';
import { QA_TEMPLATE } from '../method/prompts';

test('the committed generated validators and types match the schemas (run `npm run gen:schemas`)', () => {
  for (const [name, text] of Object.entries(generatedFiles())) {
    const committed = readFileSync(join(import.meta.dirname, '..', 'schemas', 'generated', name), 'utf8');
    assert.ok(committed === text, `schemas/generated/${name} is stale: run \`npm run gen:schemas\``);
  }
});

test('the validators run no code generation at run time', () => {
  for (const file of ['validators.cjs', 'workflow-validators.cjs']) {
    const code = readFileSync(join(import.meta.dirname, '..', 'schemas', 'generated', file), 'utf8');
    assert.doesNotMatch(code, /new Function|eval\(/);
  }
});

test('the workflow validators are the workflows schemas only, and judge as the full set does', async () => {
  const full = await import('../schemas/generated/validators.cjs');
  const wf = await import('../schemas/generated/workflow-validators.cjs');
  const names = Object.keys(wf).filter((k) => k.startsWith('validate'));
  assert.deepEqual(names.sort(), WORKFLOW_SCHEMA_FILES.map(validatorName).sort());
  for (const name of names) {
    const a = full[name as keyof typeof full] as ValidateFunction;
    const b = wf[name as keyof typeof wf] as ValidateFunction;
    for (const value of [{}, { nope: 1 }, []]) {
      assert.equal(a(structuredClone(value)), b(structuredClone(value)), name);
      assert.deepEqual(a.errors, b.errors, name);
    }
  }
  // what the workflows check is the same checker the rest of the code uses
  for (const key of Object.keys(workflowSchemas)) assert.ok(key in schemas, key);
});

test('`schemas` has a generated checker for every schema file, its errors named by the file or its "x-label"', () => {
  const entries = [...schemaEntries().values()].filter((e) => e.file !== 'common.schema.json');
  assert.deepEqual(Object.keys(schemas).sort(), entries.map((e) => e.key).sort());
  assert.deepEqual(
    Object.keys(workflowSchemas).sort(),
    entries
      .filter((e) => e.workflow)
      .map((e) => e.key)
      .sort(),
  );
  for (const e of entries)
    assert.throws(
      () => schemas[e.key as keyof typeof schemas].parse(null),
      (err: Error) => err.message.startsWith(`${e.label} is invalid: `),
      e.file,
    );
  // the names the hand-written tables gave, which error messages (and tests elsewhere) use
  assert.throws(() => schemas.modelRef.parse(null), /^SchemaError: model reference is invalid/);
  assert.throws(() => workflowSchemas.rewriterAdjust.parse(null), /^SchemaError: adjust is invalid/);
  assert.throws(() => schemas.importDatasetOutput.parse(null), /^SchemaError: importDataset output is invalid/);
});

test('the compiled validators leave out the prose, not a property or a value that is called so', () => {
  const schema = {
    description: 'prose',
    properties: { description: { type: 'string', description: 'prose', default: { description: 'kept' } } },
    items: [{ $comment: 'prose', enum: [{ examples: 1 }] }],
  };
  assert.deepEqual(withoutDocs(schema), {
    properties: { description: { type: 'string', default: { description: 'kept' } } },
    items: [{ enum: [{ examples: 1 }] }],
  });
  const code = readFileSync(join(import.meta.dirname, '..', 'schemas', 'generated', 'workflow-validators.cjs'), 'utf8');
  assert.doesNotMatch(code, /"description":/);
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

test("the README's UI inputs are printed one key per line, and the UI section copies the sample file first", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  // the UI's editor reformats compact JSON on the first click, which then misses the Start button
  for (const [, text] of readme.matchAll(/```json\n([\s\S]*?)```/g))
    for (const line of text.split('\n'))
      assert.ok((line.match(/"[^"]*"\s*:/g) ?? []).length <= 1 && !/\{\s*\S/.test(line), `more than one key: ${line}`);
  const ui = readme.slice(readme.indexOf('## Starting a run from the Temporal UI'));
  const firstCommand = /```sh\n([^\n]*)/.exec(ui)?.[1] ?? '';
  assert.match(firstCommand, /^mkdir -p \S+ && cp world\/sample\/downstream\.jsonl /);
});

test('a thousand bad items give a short error: the field itself, a few items named, the rest counted', () => {
  const r = schemas.pipelineReportInput.check({
    runs: [{ seed: 0, backbone: 'b', base: [{ benchmark: 'x', role: 'general', uri: 'e' }], arms: {} }],
    passAtK: Array.from({ length: 1025 }, (_, i) => i),
  });
  assert.ok(!r.ok);
  assert.ok(r.issues.some((i) => i.path === '$.passAtK' && i.rule === 'maxItems'));
  // another field's problem is not pushed out by the thousand items
  assert.ok(r.issues.some((i) => i.path === '$.runs[0].arms' && i.rule === 'minProperties'));
  assert.equal(r.issues.filter((i) => /^\$\.passAtK\[\d+\]$/.test(i.path)).length, 5);
  assert.ok(r.issues.some((i) => i.path === '$.passAtK[*]' && i.message === '1020 more issues like those above'));
  const message = new SchemaError('pipelineReport input', r.issues).message;
  assert.ok(message.length < 1000, `${message.length} characters`);
  // and a message never names more than 20 issues
  const many = Array.from({ length: 30 }, (_, i) => ({ path: `$.f${i}`, rule: 'type', message: 'must be string' }));
  assert.match(new SchemaError('x', many).message, /\$\.f19: must be string \(type\); and 10 more issues$/);
  // past 100 issues at different places, the outermost are kept
  const arms = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`a${i}`, { dataset: 7, score: 8 }]));
  const wide = schemas.pipelineReportInput.check({
    name: '!bad',
    runs: [{ seed: 0, backbone: 'b', base: [{ benchmark: 'x', role: 'general', uri: 'e' }], arms }],
  });
  assert.ok(!wide.ok);
  assert.equal(wide.issues.length, 100);
  assert.equal(wide.issues[0].path, '$.name');
});

test('the QA template the schemas default to is the one method/prompts.ts holds', () => {
  // ajv fills defaults only where they are written (not through a $ref), so each prompt field carries it
  for (const [schema, value] of [
    ['sft input', schemas.sftInput.parse({ model: { uri: 'm' }, dataset: 'd.jsonl' }).promptFormat],
    [
      'benchmark spec',
      schemas.benchmarkSpec.parse({ name: 'b', data: 'd.jsonl', extractor: { kind: 'boxed' } }).promptFormat,
    ],
  ])
    assert.equal(value, QA_TEMPLATE, schema);
});
