// A 50 MB line is rejected while it streams, with bounded memory: the import runs in a child process
// and its peak RSS (the kernel's high-water mark, not a sample) is read at the end.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../workers/settings';
import { mathRecord } from '../helpers/data';
import { tempDir } from '../helpers/temporal';

const LINE_MB = 50;
const LIMIT_MB = 512;

const child = `
const { ArtifactStore } = await import(${JSON.stringify(join(PROJECT_ROOT, 'activities/artifact-store.ts'))});
const { importDataset } = await import(${JSON.stringify(join(PROJECT_ROOT, 'activities/datasets/import-dataset.ts'))});
const [root, source, format] = process.argv.slice(-3);
const progress = { heartbeat() {}, checkCancelled() {} };
const map = { question: 'problem', answer: 'solution' };
const out = await importDataset(new ArtifactStore(root), { source, map, format, maxBadFraction: 0.5 }, progress);
console.log(JSON.stringify({ rejects: out.rejectSample, valid: out.counts.valid, maxRssKb: process.resourceUsage().maxRSS }));
`;

/** Writes good records around one line (or element) of `LINE_MB` MB, a chunk at a time. */
async function writeHuge(path: string, format: 'jsonl' | 'json'): Promise<void> {
  const fh = await open(path, 'w');
  const good = [1, 2, 3].map((i) => JSON.stringify(mathRecord(i)));
  const sep = format === 'json' ? ',\n' : '\n';
  await fh.write((format === 'json' ? '[' : '') + good[0] + sep + '{"problem": "');
  const chunk = 'x'.repeat(1 << 20);
  for (let i = 0; i < LINE_MB; i++) await fh.write(chunk);
  await fh.write('", "solution": "y"}' + sep + good[1] + sep + good[2] + (format === 'json' ? ']' : '') + '\n');
  await fh.close();
}

for (const format of ['jsonl', 'json'] as const) {
  test(`a ${LINE_MB} MB ${format === 'json' ? 'JSON element' : 'JSONL line'} is rejected while it streams, peak RSS under ${LIMIT_MB} MB`, async () => {
    const root = await tempDir();
    await writeHuge(join(root, `huge.${format}`), format);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', child, root, `artifact://huge.${format}`, format],
      { cwd: PROJECT_ROOT, maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
      rejects: { line: number; rule: string }[];
      valid: number;
      maxRssKb: number;
    };
    const peakMb = r.maxRssKb / 1024;
    console.log(`peak RSS importing a ${LINE_MB} MB ${format} record: ${peakMb.toFixed(0)} MB`);
    assert.deepEqual(
      r.rejects.map((x) => [x.line, x.rule]),
      [[2, 'maxBytes']],
    );
    assert.equal(r.valid, 3);
    assert.ok(peakMb < LIMIT_MB, `peak RSS ${peakMb.toFixed(0)} MB`);
  });
}
