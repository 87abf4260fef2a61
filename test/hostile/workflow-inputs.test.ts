// Every workflow input fuzzed from its JSON schema: wrong types, missing and unknown fields, huge and
// negative numbers, long strings, escaping paths. Each bad input must fail in workflows/validate.ts (the
// first thing every workflow does) with a non-retryable InvalidInput naming the JSON path and the rule.
// Then, on a real server: a bad input fails before any activity is scheduled, and a workflow type no
// worker has fails at once instead of staying Running.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { schemas } from '../../schemas';
import { PROJECT_ROOT, TASK_QUEUE } from '../../workers/settings';
import * as workflows from '../../workflows';
import { WORKFLOW_TYPES } from '../../workflows/names';
import { validateInput } from '../../workflows/validate';
import { useTemporal } from '../helpers/temporal';

type Node = Record<string, unknown>;
const SCHEMA_DIR = join(PROJECT_ROOT, 'schemas/json');
const files = new Map<string, Node>(
  readdirSync(SCHEMA_DIR).map((f) => [f, JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')) as Node]),
);

/** The schema node a $ref names, relative to the file it is in; returns the node and its file. */
function deref(node: Node, file: string): [Node, string] {
  let n = node;
  let f = file;
  while (typeof n.$ref === 'string') {
    const [target, pointer] = (n.$ref as string).split('#');
    if (target) f = target;
    let cur = files.get(f)!;
    for (const part of (pointer ?? '').split('/').filter(Boolean)) cur = cur[part] as Node;
    // sibling keywords (a default, a description) stay with the reference
    const { $ref: _, ...rest } = n;
    n = { ...cur, ...rest };
  }
  return [n, f];
}

/** Sample values that satisfy a string pattern of the schemas. */
const PATTERN_SAMPLES: Record<string, string> = {
  '^[0-9a-f]{64}$': 'a'.repeat(64),
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$': 'fuzz',
  '^(cpu|cuda:[0-9]{1,2})$': 'cpu',
  '^[A-Za-z0-9]{1,36}$': 'ABCD',
  '^[1-9][0-9]{0,5} ?(ms|s|seconds|m|minutes)$': '3 seconds',
  '\\{candidate\\}': 'Problem:\n{question} | {reference} | {candidate}\n\nAnswer:\n',
};

/** A valid value for every node: each optional property present too, so every path can be mutated. */
function valid(node0: Node, file: string): unknown {
  const [node, f] = deref(node0, file);
  if (node.enum) return (node.enum as unknown[])[0];
  if (node.type === 'object' || node.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries((node.properties as Record<string, Node>) ?? {})) out[k] = valid(v, f);
    if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null)
      out.arm0 = valid(node.additionalProperties as Node, f);
    return out;
  }
  if (node.type === 'array') {
    const item = valid(node.items as Node, f);
    return Array.from({ length: Math.max(1, (node.minItems as number) ?? 0) }, () => item);
  }
  if (node.type === 'string') {
    if (node.pattern && (node.pattern as string).startsWith('^(?:artifact://)')) return 'artifact://data/fuzz.jsonl';
    if (node.pattern) return PATTERN_SAMPLES[node.pattern as string] ?? assert.fail(`no sample for ${node.pattern}`);
    return node.default ?? 'x';
  }
  if (node.type === 'integer' || node.type === 'number')
    return node.default ?? node.minimum ?? ((node.exclusiveMinimum as number) ?? 0) + 1;
  if (node.type === 'boolean') return node.default ?? true;
  assert.fail(`no valid value for ${JSON.stringify(node).slice(0, 200)}`);
}

interface Mutation {
  path: string;
  what: string;
  input: unknown;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const LONG = 'x'.repeat(1_000_000);
const ESCAPES = [
  '../outside.jsonl',
  'artifact://../../etc/passwd',
  'a/../../x',
  'a/..',
  '..',
  '/etc/passwd',
  'artifact:///etc/passwd',
  'file:///etc/passwd',
  'http://example.com/x',
  's3://bucket/x',
  'C:/Windows/x',
  'a\\..\\..\\x',
  'a\u0000b',
];
const typeValues: [string, unknown][] = [
  ['null', null],
  ['boolean', true],
  ['integer', 7],
  ['number', 0.5],
  ['string', 'str'],
  ['array', [1]],
  ['object', { a: 1 }],
];
const jsonType = (v: unknown) =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? 'integer'
          : 'number'
        : typeof v;

/** Mutations of `base` at the node `node0` reached by `at` (a list of keys). */
function mutations(base: unknown, node0: Node, file: string, at: (string | number)[], path: string): Mutation[] {
  const [node, f] = deref(node0, file);
  const out: Mutation[] = [];
  const set = (what: string, value: unknown, deleteIt = false) => {
    const input = clone(base) as Record<string, unknown>;
    if (at.length === 0) return out.push({ path, what, input: value });
    let cur = input as Record<string | number, unknown>;
    for (const k of at.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
    if (deleteIt) delete cur[at[at.length - 1]];
    else cur[at[at.length - 1]] = value;
    out.push({ path, what, input });
  };
  const allowed = new Set<string>(
    node.enum
      ? (node.enum as unknown[]).map(jsonType)
      : node.type === 'number'
        ? ['number', 'integer']
        : [node.type as string],
  );
  for (const [t, v] of typeValues) if (!allowed.has(t)) set(`wrong type: ${t}`, v);
  if (node.enum) set('not one of the enum', 'no-such-value');
  if (node.type === 'integer' || node.type === 'number') {
    const max = (node.maximum ?? node.exclusiveMaximum) as number | undefined;
    const min = (node.minimum ?? node.exclusiveMinimum) as number | undefined;
    assert.ok(max !== undefined && min !== undefined, `${path}: a number without both bounds`);
    for (const v of [1e308, -1e308, max + 1, min - 1, 2 ** 53 + 2, -(2 ** 53) - 2]) set(`out of range: ${v}`, v);
    if (node.exclusiveMaximum !== undefined) set('at the exclusive maximum', node.exclusiveMaximum);
    if (node.exclusiveMinimum !== undefined) set('at the exclusive minimum', node.exclusiveMinimum);
    if (node.type === 'integer') set('not an integer', min + 0.5);
  }
  if (node.type === 'string') {
    assert.ok(node.maxLength || node.pattern || node.enum, `${path}: a string without a maxLength or pattern`);
    set('a 1 MB string', LONG);
    if (node.minLength || node.pattern) set('empty', '');
    if (node.pattern && (node.pattern as string).startsWith('^(?:artifact://)'))
      for (const e of ESCAPES) set(`escaping path ${JSON.stringify(e)}`, e);
    else if (node.pattern) set('not matching the pattern', '!! no match !!');
  }
  if (node.type === 'array') {
    assert.ok(
      node.maxItems || (node.uniqueItems && deref(node.items as Node, f)[0].enum),
      `${path}: an array without maxItems`,
    );
    if (node.minItems) set('too few items', []);
    if (node.maxItems)
      set(
        'too many items',
        Array.from({ length: (node.maxItems as number) + 1 }, (_, i) => i),
      );
    if (node.uniqueItems) {
      const item = valid(node.items as Node, f);
      set('duplicate items', [item, item]);
    }
    const items = valid(node as Node, f) as unknown[];
    const withItems = clone(base);
    out.push(...mutations(setAt(withItems, at, items), node.items as Node, f, [...at, 0], `${path}[0]`));
  }
  if (node.type === 'object' || node.properties) {
    // an object takes only its own fields, a bounded map of one kind of value, or says it passes others through
    assert.equal(
      node.additionalProperties === false ||
        typeof node.additionalProperties === 'object' ||
        (node.additionalProperties === true && !!node.description) ||
        (!node.properties && !!node.maxProperties),
      true,
      `${path}: an object that takes any field`,
    );
    if (node.additionalProperties === false)
      for (const k of ['unknownField', 'constructor', '__proto__x'])
        out.push({ path: `${path}.${k}`, what: 'unknown field', input: setAt(clone(base), [...at, k], 1) });
    if (node.maxProperties && typeof node.additionalProperties === 'object') {
      const many = Object.fromEntries(
        Array.from({ length: (node.maxProperties as number) + 1 }, (_, i) => [
          `k${i}`,
          valid(node.additionalProperties as Node, f),
        ]),
      );
      set('too many properties', many);
    } else if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null)
      assert.fail(`${path}: a map without maxProperties`);
    if (node.minProperties) set('too few properties', {});
    for (const req of (node.required as string[]) ?? []) {
      const input = clone(base);
      const parent = at.reduce(
        (c: Record<string | number, unknown>, k) => c[k] as Record<string, unknown>,
        input as never,
      );
      delete (parent as Record<string, unknown>)[req];
      out.push({ path: `${path}.${req}`, what: 'missing required field', input });
    }
    for (const [k, v] of Object.entries((node.properties as Record<string, Node>) ?? {}))
      out.push(...mutations(base, v, f, [...at, k], `${path}.${k}`));
    if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
      const key = Object.keys(valid(node, f) as object).find((k) => !(node.properties as Node)?.[k]);
      if (key) out.push(...mutations(base, node.additionalProperties as Node, f, [...at, key], `${path}.${key}`));
    }
  }
  return out;
}

function setAt(root: unknown, at: (string | number)[], value: unknown): unknown {
  if (at.length === 0) return value;
  let cur = root as Record<string | number, unknown>;
  for (const k of at.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  if (value === 1 && String(at[at.length - 1]) === '__proto__x') cur['__proto__x'] = 1;
  else cur[at[at.length - 1]] = value;
  return root;
}

// workflow (or activity input) -> its checker and schema file
const INPUTS = [
  ['importDataset', schemas.importDatasetInput, 'import-dataset-input.schema.json'],
  ['evaluate', schemas.evaluateInput, 'evaluate-input.schema.json'],
  ['sft', schemas.sftInput, 'sft-input.schema.json'],
  ['pretrain', schemas.prepareWorldInput, 'prepare-world-input.schema.json'],
  ['worldForgetting', schemas.worldForgettingInput, 'world-forgetting-input.schema.json'],
  ['rewriterProbe', schemas.rewriterProbeInput, 'rewriter-probe-input.schema.json'],
  ['trainRewriter', schemas.trainRewriterInput, 'train-rewriter-input.schema.json'],
  ['trainRewriter adjust (update)', schemas.rewriterAdjust, 'rewriter-adjust.schema.json'],
  ['pipeline', schemas.pipelineConfig, 'pipeline-config.schema.json'],
  ['forgettingReport (activity)', schemas.forgettingInput, 'forgetting-input.schema.json'],
  ['pipelineReport (activity)', schemas.pipelineReportInput, 'pipeline-report-input.schema.json'],
] as const;

const counts: Record<string, number> = {};

for (const [name, checker, file] of INPUTS) {
  test(`${name}: every input fuzzed from ${file} fails naming the JSON path and the rule`, () => {
    const schema = files.get(file)!;
    const base = valid(schema, file);
    const ok = checker.check(base);
    assert.ok(ok.ok, `the generated valid input is valid: ${JSON.stringify(!ok.ok && ok.issues)}`);
    const cases = [
      ...mutations(base, schema, file, [], '$'),
      ...typeValues
        .filter(([t]) => t !== 'object')
        .map(([t, v]) => ({ path: '$', what: `the input is ${t}`, input: v })),
      { path: '$', what: 'no input at all', input: undefined },
    ];
    const problems: string[] = [];
    for (const c of cases) {
      let err: unknown;
      try {
        validateInput<unknown>(checker, c.input, name);
      } catch (e) {
        err = e;
      }
      const where = `${c.path} (${c.what})`;
      if (!(err instanceof ApplicationFailure)) {
        problems.push(`${where}: accepted`);
        continue;
      }
      assert.equal(err.type, 'InvalidInput');
      assert.equal(err.nonRetryable, true);
      const issues = (err.details?.[0] ?? []) as { path: string; rule: string; message: string }[];
      // the issue names the mutated path (an unknown field inside it, or the node itself), and the rule
      const named = issues.find((i) => i.path === c.path || (c.path === '$' && i.path.startsWith('$')));
      if (!named) problems.push(`${where}: issues name ${issues.map((i) => i.path).join(', ')}`);
      else if (!named.rule || !err.message.includes(`${named.path}: `) || !err.message.includes(`(${named.rule})`))
        problems.push(`${where}: the message does not name the path and rule: ${err.message.slice(0, 200)}`);
      if (err.message.length > 20_000) problems.push(`${where}: a message of ${err.message.length} characters`);
    }
    counts[name] = cases.length;
    console.log(`${name}: ${cases.length} fuzzed inputs, all rejected naming path and rule`);
    assert.deepEqual(problems, []);
  });
}

test('WORKFLOW_TYPES lists every workflow workflows/index.ts exports (add a new one to workflows/names.ts)', () => {
  const exported = Object.entries(workflows)
    .filter(([k, v]) => k !== 'default' && typeof v === 'function')
    .map(([k]) => k)
    .sort();
  assert.deepEqual([...WORKFLOW_TYPES].sort(), exported);
  assert.equal(typeof (workflows as Record<string, unknown>).default, 'function');
});

// ---- on a real server
const t = useTemporal();
let n = 0;

/** Whether the run's history holds an event whose type matches `kind`. */
async function hasEvent(workflowId: string, kind: RegExp): Promise<string[]> {
  const { events } = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  const names = (events ?? []).map((e) => String(proto.temporal.api.enums.v1.EventType[e.eventType ?? 0]));
  return names.filter((name) => kind.test(name));
}

test('on a real server a bad input fails at once, before any activity, naming path and rule', async () => {
  for (const [type, input, expected] of [
    [
      'sft',
      { model: { uri: 'artifact://m' }, dataset: '../../etc/passwd', epochs: 1e308 },
      /\$\.dataset: .*\(pattern\).*\$\.epochs: .*\(maximum\)/,
    ],
    [
      'importDataset',
      { source: 'artifact://x.jsonl', map: { question: 5 }, sneaky: true },
      /\$\.map\.question: .*\(type\)/,
    ],
    ['evaluate', { model: { uri: 'm' }, benchmarks: [] }, /\$\.benchmarks: .*\(minItems\)/],
    [
      'trainRewriter',
      { preset: 'test', groupSize: 1, validation: { every: 0 }, temperature: 1e9 },
      /\$\.validation\.every: .*\(minimum\)[^]*\$\.groupSize: .*\(minimum\)[^]*\$\.temperature: .*\(maximum\)/,
    ],
  ] as const) {
    const workflowId = `bad-input-${++n}`;
    const started = Date.now();
    const err = await t.env.client.workflow
      .execute(type, { taskQueue: TASK_QUEUE, workflowId, args: [input], workflowExecutionTimeout: '1 minute' })
      .catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = err.cause as ApplicationFailure;
    assert.equal(cause.type, 'InvalidInput');
    assert.match(cause.message, expected);
    assert.ok(Date.now() - started < 20_000, 'failed at once');
    assert.deepEqual(await hasEvent(workflowId, /ACTIVITY_TASK/), [], 'no activity was scheduled');
    assert.deepEqual(await hasEvent(workflowId, /WORKFLOW_TASK_FAILED/), [], 'the workflow failed, not its task');
  }
});

test('a workflow type no worker has fails at once, naming the workflows there are', async () => {
  const workflowId = `unknown-type-${++n}`;
  const started = Date.now();
  const err = await t.env.client.workflow
    .execute('noSuchWorkflow', { taskQueue: TASK_QUEUE, workflowId, args: [{}], workflowExecutionTimeout: '1 minute' })
    .catch((e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  const cause = err.cause as ApplicationFailure;
  assert.equal(cause.type, 'UnknownWorkflowType');
  assert.match(
    cause.message,
    /there is no workflow "noSuchWorkflow" on task queue "rewrite-rl"; the workflows are: importDataset, evaluate, sft/,
  );
  assert.ok(Date.now() - started < 20_000, `failed in ${Date.now() - started} ms`);
});
