// Hostile datasets: bad encodings, BOMs, CRLF, very long lines, deep nesting and the wrong shape, in
// JSONL, JSON and Parquet. Each case either imports cleanly or fails (or, under maxBadFraction, is
// skipped) naming the file, the line, the field and the rule; a failing case never leaves or changes an
// artifact.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ArtifactStore } from '../../activities/artifact-store';
import { BadRecordsError, importDataset } from '../../activities/datasets/import-dataset';
import { MAX_RECORD_BYTES, readLines, SourceFileError } from '../../activities/datasets/readers';
import { stageFile } from '../../activities/datasets/stage';
import { jsonl, mathRecord, noProgress, put } from '../helpers/data';
import { tempDir } from '../helpers/temporal';
import { snapshot } from './helpers';

const map = { question: 'problem', answer: 'solution' };
const good = (i: number) => JSON.stringify(mathRecord(i));
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

/** A Parquet file whose `solution` of row `badRow` (0-based) holds raw bytes (not UTF-8). */
function parquetWithBytes(rows: number, badRow: number, raw: number[]): Uint8Array {
  const marker = 'QQQQQQQQ';
  const solutions = Array.from({ length: rows }, (_, i) => (i === badRow ? marker : mathRecord(i).solution));
  const buf = Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'problem', data: Array.from({ length: rows }, (_, i) => mathRecord(i).problem), type: 'STRING' },
        { name: 'solution', data: solutions, type: 'STRING' },
      ],
      codec: 'UNCOMPRESSED',
      statistics: false,
    }),
  );
  const at = buf.indexOf(marker);
  assert.ok(at > 0 && buf.indexOf(marker, at + 1) < 0, 'the marker is in the file once');
  Buffer.from(raw.concat(Array(marker.length - raw.length).fill(0x41))).copy(buf, at);
  return new Uint8Array(buf);
}

interface Case {
  name: string;
  file: string;
  content: string | Uint8Array;
  /** The import fails at once with this message (a file-level error, or a bad record at maxBadFraction 0). */
  fails?: RegExp;
  /** Under maxBadFraction 0.5, these rejects [line, field, rule] and this many valid records. */
  rejects?: [number, string, string][];
  valid?: number;
  options?: Record<string, unknown>;
}

const LONG = 'x'.repeat(MAX_RECORD_BYTES + 10);
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

const cases: Case[] = [
  {
    name: 'invalid UTF-8 (Latin-1 byte) in JSONL',
    file: 'latin1.jsonl',
    content: bytes(good(1), '\n{"problem": "caf', [0xe9], '", "solution": "x"}\n', good(2), '\n'),
    fails: /latin1\.jsonl:2: \$: encoding error: the line is not valid UTF-8 \(byte 17: e9/,
    rejects: [[2, '$', 'encoding']],
    valid: 2,
  },
  {
    name: 'a UTF-8 surrogate and an overlong form in JSONL',
    file: 'surrogate.jsonl',
    content: bytes(
      good(1),
      '\n{"problem": "',
      [0xed, 0xa0, 0x80],
      '", "solution": "x"}\n{"problem": "',
      [0xc0, 0xaf],
      '", "solution": "y"}\n',
      good(2),
      '\n',
      good(3),
      '\n',
    ),
    fails: /surrogate\.jsonl:2: \$: encoding error/,
    rejects: [
      [2, '$', 'encoding'],
      [3, '$', 'encoding'],
    ],
    valid: 3,
  },
  {
    name: 'a truncated multi-byte character at the end of a JSONL line',
    file: 'cut.jsonl',
    content: bytes(good(1), '\n', good(2), '\n{"problem": "a', [0xe2, 0x82], '\n', good(3)),
    rejects: [[3, '$', 'encoding']],
    valid: 3,
    fails: /cut\.jsonl:3: \$: encoding error/,
  },
  {
    name: 'a UTF-16 file',
    file: 'utf16.jsonl',
    content: new Uint8Array(Buffer.from('\uFEFF' + good(1) + '\n', 'utf16le')),
    fails: /utf16\.jsonl:1: \$: encoding error: the file is UTF-16/,
  },
  {
    name: 'a BOM, CRLF line ends and blank lines in JSONL',
    file: 'bom-crlf.jsonl',
    content: '\uFEFF' + [good(1), '', good(2), '   ', good(3)].join('\r\n') + '\r\n',
    rejects: [],
    valid: 3,
  },
  {
    name: 'a line over the record limit in JSONL',
    file: 'long.jsonl',
    content: [good(1), `{"problem": "${LONG}", "solution": "x"}`, good(2), good(3)].join('\n'),
    fails:
      /long\.jsonl:2: \$: the line has 8,388,650 bytes; a record may have at most 8,388,608 \(skipped unread\) \(maxBytes\)/,
    rejects: [[2, '$', 'maxBytes']],
    valid: 3,
  },
  {
    name: 'a question over the schema limit in JSONL',
    file: 'question.jsonl',
    content: jsonl([mathRecord(1), { problem: 'q'.repeat(200_001), solution: 'x' }, mathRecord(2)]),
    fails: /question\.jsonl:2: problem: "problem" must NOT have more than 200000 characters \(maxLength\)/,
    rejects: [[2, 'problem', 'maxLength']],
    valid: 2,
  },
  {
    name: 'deep nesting in JSONL',
    file: 'deep.jsonl',
    content: [good(1), `{"problem": "p", "solution": "s", "extra": ${deep(100_000)}}`, good(2)].join('\n'),
    fails: /deep\.jsonl:2: \$: the record nests arrays or objects more than 64 deep \(maxDepth\)/,
    rejects: [[2, '$', 'maxDepth']],
    valid: 2,
  },
  {
    name: 'deep nesting in the chat messages',
    file: 'deep-chat.jsonl',
    content: [
      JSON.stringify({
        m: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'a' },
        ],
      }),
      `{"m": [{"role": "user", "content": ${deep(60)}}, {"role": "assistant", "content": "a"}]}`,
      JSON.stringify({
        m: [
          { role: 'user', content: 'q2' },
          { role: 'assistant', content: 'a2' },
        ],
      }),
    ].join('\n'),
    options: { map: { messages: 'm' } },
    fails: /deep-chat\.jsonl:2: m\[0\]\.content: must be string \(type\)/,
    rejects: [[2, 'm[0].content', 'type']],
    valid: 2,
  },
  {
    name: 'the wrong shape in JSONL: an array, a string, null, a number',
    file: 'shape.jsonl',
    content: [good(1), '[1, 2]', '"text"', 'null', '42', good(2), good(3), good(4), good(5)].join('\n'),
    fails: /shape\.jsonl:2: \$: a record must be an object, got an array \(type\)/,
    rejects: [
      [2, '$', 'type'],
      [3, '$', 'type'],
      [4, '$', 'type'],
      [5, '$', 'type'],
    ],
    valid: 5,
  },
  {
    name: 'wrong field types in JSONL',
    file: 'types.jsonl',
    content: jsonl([
      mathRecord(1),
      { problem: ['a'], solution: 'x' },
      { problem: 'p', solution: { text: 'x' } },
      { problem: 'p', solution: true },
      mathRecord(2),
      mathRecord(3),
      mathRecord(4),
    ]),
    fails: /types\.jsonl:2: problem: "problem" must be a string, got an array \(type\)/,
    rejects: [
      [2, 'problem', 'type'],
      [3, 'solution', 'type'],
      [4, 'solution', 'type'],
    ],
    valid: 4,
  },
  {
    name: 'NUL bytes and control characters inside strings in JSONL',
    file: 'nul.jsonl',
    content: bytes(
      good(1),
      '\n{"problem": "a',
      [0x00],
      'b", "solution": "x"}\n',
      '{"problem": "a\\u0000b", "solution": "y"}\n',
    ),
    fails: /nul\.jsonl:2: \$: not valid JSON: .* \(json\)/,
    rejects: [[2, '$', 'json']],
    valid: 2,
  },
  {
    name: 'an empty JSONL file',
    file: 'empty.jsonl',
    content: '',
    fails: /empty\.jsonl: no valid records \(read 0\)/,
  },
  {
    name: 'a file of blank lines',
    file: 'blank.jsonl',
    content: '\n\r\n   \n',
    fails: /blank\.jsonl: no valid records \(read 0\)/,
  },
  {
    name: 'invalid UTF-8 in a JSON array element',
    file: 'latin1.json',
    content: bytes('[\n', good(1), ',\n{"problem": "caf', [0xe9], '",\n "solution": "x"},\n', good(2), '\n]\n'),
    fails: /latin1\.json:3: \$: encoding error: the element is not valid UTF-8/,
    rejects: [[3, '$', 'encoding']],
    valid: 2,
  },
  {
    name: 'a BOM and CRLF in a JSON array',
    file: 'bom.json',
    content: '\uFEFF[\r\n' + [good(1), good(2), good(3)].join(',\r\n') + '\r\n]\r\n',
    rejects: [],
    valid: 3,
  },
  {
    name: 'an element over the record limit in a JSON array',
    file: 'long.json',
    content: `[${good(1)},\n{"problem": "${LONG}", "solution": "x"},\n${good(2)},\n${good(3)}]`,
    fails: /long\.json:2: \$: the element has 8,388,650 bytes.* \(maxBytes\)/,
    rejects: [[2, '$', 'maxBytes']],
    valid: 3,
  },
  {
    name: 'deep nesting in a JSON array element',
    file: 'deep.json',
    content: `[${good(1)},\n{"problem": "p", "solution": "s", "x": ${deep(10_000)}},\n${good(2)}]`,
    fails: /deep\.json:2: \$: the record nests .* \(maxDepth\)/,
    rejects: [[2, '$', 'maxDepth']],
    valid: 2,
  },
  {
    name: 'the wrong shape in a JSON file: an object',
    file: 'object.json',
    content: '{"problem": "p", "solution": "s"}',
    fails: /object\.json:1: expected a JSON array, found '\{'/,
  },
  {
    name: 'the wrong shape in a JSON file: scalars in the array',
    file: 'scalars.json',
    content: `[1, "two", null, ${good(1)}, ${good(2)}, ${good(3)}, ${good(4)}]`,
    fails: /scalars\.json:1: \$: a record must be an object, got a number \(type\)/,
    rejects: [
      [1, '$', 'type'],
      [1, '$', 'type'],
      [1, '$', 'type'],
    ],
    valid: 4,
  },
  {
    name: 'garbage after a JSON array',
    file: 'after.json',
    content: `[${good(1)}]\n]`,
    fails: /after\.json:2: unexpected '\]' after the end of the array/,
  },
  {
    name: 'a UTF-16 JSON file',
    file: 'utf16.json',
    content: new Uint8Array(Buffer.from('\uFEFF[' + good(1) + ']', 'utf16le')),
    fails: /utf16\.json:1: encoding error: the file is UTF-16/,
  },
  {
    name: 'a binary file called .json',
    file: 'binary.json',
    content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    fails: /binary\.json:1: expected a JSON array, found byte 0x89/,
  },
  {
    name: 'invalid UTF-8 in a Parquet string column',
    file: 'latin1.parquet',
    content: parquetWithBytes(6, 2, [0x63, 0x61, 0x66, 0xe9]),
    fails: /latin1\.parquet:3: solution: encoding error: the value is not valid UTF-8 \(byte 4: e9/,
    rejects: [[3, 'solution', 'encoding']],
    valid: 5,
  },
  {
    name: 'the wrong column types in Parquet',
    file: 'types.parquet',
    content: new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'problem', data: ['a', 'b', 'c', 'd'], type: 'STRING' },
          { name: 'solution', data: [1, 2, 3, 4], type: 'INT32' },
        ],
      }),
    ),
    fails: /types\.parquet:1: solution: "solution" must be a string, got a number \(type\)/,
  },
  {
    name: 'a Parquet file missing the mapped column',
    file: 'columns.parquet',
    content: new Uint8Array(
      parquetWriteBuffer({ columnData: [{ name: 'question', data: ['a', 'b'], type: 'STRING' }] }),
    ),
    fails: /columns\.parquet:1: problem: missing field "problem" \(required\)/,
  },
  {
    name: 'a file that is not Parquet',
    file: 'fake.parquet',
    content: jsonl([mathRecord(1)]),
    fails: /fake\.parquet:1: not a readable Parquet file \(/,
  },
  {
    name: 'a truncated Parquet file',
    file: 'truncated.parquet',
    content: new Uint8Array(
      parquetWriteBuffer({ columnData: [{ name: 'problem', data: ['a', 'b'], type: 'STRING' }] }),
    ).subarray(0, 40),
    fails: /truncated\.parquet:1: not a readable Parquet file \(/,
  },
];

async function setup() {
  const root = await tempDir();
  return { root, store: new ArtifactStore(root) };
}

for (const c of cases) {
  test(`dataset: ${c.name}`, async () => {
    const { root, store } = await setup();
    const source = await put(root, `in/${c.file}`, c.content);
    // an earlier, good import in the same store: no failing case may change it
    const earlier = await importDataset(
      store,
      { source: await put(root, 'in/earlier.jsonl', jsonl([mathRecord(100), mathRecord(101)])), map },
      noProgress,
    );
    const before = snapshot(root, ['datasets']);
    const strict = await importDataset(store, { source, map, ...c.options }, noProgress).catch((e: Error) => e);
    if (c.fails) {
      assert.ok(strict instanceof Error, `${c.name}: expected a failure, got ${JSON.stringify(strict)?.slice(0, 300)}`);
      assert.match(strict.message, c.fails);
      assert.ok(!/\n\s+at /.test(strict.message), 'no stack trace in the message');
      assert.deepEqual(snapshot(root, ['datasets']), before, 'a failing import leaves every dataset as it was');
      assert.deepEqual(readdirSync(store.resolve('datasets')), [earlier.uri.split('/').pop()]);
    } else assert.ok(!(strict instanceof Error), `${c.name}: ${String(strict)}`);
    if (c.rejects) {
      const lenient = await importDataset(store, { source, map, ...c.options, maxBadFraction: 0.5 }, noProgress);
      assert.deepEqual(
        lenient.rejectSample.map((r) => [r.line, r.field, r.rule]),
        c.rejects,
      );
      assert.equal(lenient.counts.valid, c.valid);
      for (const r of lenient.rejectSample) assert.ok(r.message.length > 0 && r.message.length <= 500);
    }
  });
}

test('the same content staged and imported under another file name works; the same file again is reused', async () => {
  const { root, store } = await setup();
  const local = await tempDir();
  const text = jsonl([mathRecord(1), mathRecord(2), mathRecord(3)]);
  await put(local, 'a.jsonl', text);
  await put(local, 'b.jsonl', text);
  const refA = await stageFile(store, `${local}/a.jsonl`);
  const refB = await stageFile(store, `${local}/b.jsonl`);
  assert.match(refA, /^artifact:\/\/inputs\/[0-9a-f]{16}\/a\.jsonl$/);
  assert.equal(refB, refA.replace(/a\.jsonl$/, 'b.jsonl'));
  const before = snapshot(root, ['inputs']);
  assert.equal(await stageFile(store, `${local}/a.jsonl`), refA);
  assert.deepEqual(snapshot(root, ['inputs']), before, 'staging the same file again changes nothing');
  assert.deepEqual(
    readdirSync(store.resolve('inputs')).filter((f) => f.startsWith('.')),
    [],
    'no temporary file left',
  );
  const a = await importDataset(store, { source: refA, map }, noProgress);
  const b = await importDataset(store, { source: refB, map }, noProgress);
  assert.equal(b.sha256, a.sha256);
  assert.equal(b.counts.valid, 3);
  await assert.rejects(stageFile(store, `${local}/missing.jsonl`), /cannot read .*missing\.jsonl \(ENOENT\)/);
});

test('readLines: bounded lines across chunk boundaries, CR before LF dropped, the last line without LF', async () => {
  const root = await tempDir();
  const text = 'ab\r\n' + 'c'.repeat(25) + '\n\n' + 'é'.repeat(5) + '\r\nlast';
  await put(root, 'f.txt', text);
  const items = [];
  for await (const item of readLines(`${root}/f.txt`, { maxLineBytes: 12, highWaterMark: 3 })) items.push(item);
  assert.deepEqual(items, [
    { line: 1, text: 'ab' },
    {
      line: 2,
      problem: {
        rule: 'maxBytes',
        message: 'the line has 25 bytes; a record may have at most 12 (skipped unread)',
      },
    },
    { line: 3, text: '' },
    { line: 4, text: 'ééééé' },
    { line: 5, text: 'last' },
  ]);
  // a multi-byte character split across chunks decodes whole
  const split = Buffer.from('aé\n');
  await put(root, 'g.txt', split);
  const g = [];
  for await (const item of readLines(`${root}/g.txt`, { highWaterMark: 2 })) g.push(item);
  assert.deepEqual(g, [{ line: 1, text: 'aé' }]);
});

test('a failed import leaves only its rejects, and a half-written dataset never appears', async () => {
  const { root, store } = await setup();
  const source = await put(root, 'in/bad.jsonl', bytes(good(1), '\n', [0xff, 0xfe, 0x41], '\n'));
  const err = await importDataset(store, { source, map }, noProgress).catch((e) => e);
  assert.ok(err instanceof BadRecordsError);
  assert.match(err.message, /bad\.jsonl:2: \$: encoding error/);
  assert.deepEqual(readdirSync(store.resolve('datasets')), []);
  const rejects = readFileSync(store.resolve(err.rejectsUri), 'utf8').trim().split('\n');
  assert.equal(rejects.length, 1);
  assert.equal(JSON.parse(rejects[0]).rule, 'encoding');
});

test('a truncated JSON array is a SourceFileError naming the last line', async () => {
  const { root, store } = await setup();
  const source = await put(root, 'in/t.json', `[${good(1)},\n${good(2)},\n{"problem": "p`);
  const err = await importDataset(store, { source, map }, noProgress).catch((e) => e);
  assert.ok(err instanceof SourceFileError);
  assert.match(err.message, /t\.json:3: the JSON array is not closed/);
});
