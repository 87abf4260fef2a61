// Workflow determinism: committed histories of real runs (scripts/record-history.ts) replay against the
// current workflow code, and the replay test is shown to catch what it guards against: a changed copy of
// every workflow fails its history with a nondeterminism error unless the change is behind `patched`.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { PROJECT_ROOT } from '../workers/settings';
import { WORKFLOW_TYPES } from '../workflows/names';
import { workflowBundle } from './helpers/temporal';

const dir = join(import.meta.dirname, 'histories');
const histories = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    const type = history.events![0].workflowExecutionStartedEventAttributes!.workflowType!.name!;
    // scripts/record-history.ts starts each run as `<file name>-history`; a child workflow's id derives from it
    return { file, type, history, workflowId: file.replace(/\.json$/, '-history') };
  });

test('there is a committed history for every workflow type the workers run', () => {
  const recorded = new Set(histories.map((h) => h.type));
  const missing = WORKFLOW_TYPES.filter((t) => !recorded.has(t));
  assert.deepEqual(missing, [], `record them with scripts/record-history.ts`);
});

for (const { file, history, workflowId } of histories) {
  test(`the committed history ${file} replays without a nondeterminism error`, async () => {
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, workflowId);
  });
}

const workflowsDir = join(PROJECT_ROOT, 'workflows');
/** workflow type → its source file, read from the exports of workflows/index.ts */
const sources = new Map(
  [...readFileSync(join(workflowsDir, 'index.ts'), 'utf8').matchAll(/export \{ (\w+) \} from '\.\/([\w-]+)'/g)].map(
    ([, type, file]) => [type, join(workflowsDir, `${file}.ts`)],
  ),
);

/**
 * A copy of every recorded workflow with one new command (a timer) right after its input validation,
 * plain or behind `patched`, bundled as a worker would bundle it. The copy is made from the current
 * sources at test time, so it is the real workflow with exactly one change.
 */
async function changedBundle(variant: 'unpatched' | 'patched'): Promise<{ code: string }> {
  const out = join(PROJECT_ROOT, '.cache', 'test', 'changed-workflows', variant);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const change =
    variant === 'patched' ? `if (changePatched('replay-test-change')) await changeSleep(1);` : `await changeSleep(1);`;
  const exports = [...new Set(histories.map((h) => h.type))].map((type) => {
    const source = sources.get(type);
    assert.ok(source, `workflows/index.ts exports ${type}`);
    const lines = readFileSync(source, 'utf8')
      .replace(/from '(\.\.?\/[^']+)'/g, (_, rel: string) => `from '${resolve(dirname(source), rel)}'`)
      .split('\n');
    const at = lines.findIndex((l) => l.includes('= validateInput('));
    assert.ok(at >= 0, `${source} validates its input with validateInput (where the change goes)`);
    lines.splice(at + 1, 0, `  ${change}`);
    lines.unshift(`import { patched as changePatched, sleep as changeSleep } from '@temporalio/workflow';`);
    const name = `${type}.ts`;
    writeFileSync(join(out, name), lines.join('\n'));
    return `export { ${type} } from './${type}';`;
  });
  writeFileSync(join(out, 'index.ts'), exports.join('\n') + '\n');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  return bundleWorkflowCode({ workflowsPath: join(out, 'index.ts'), logger: quiet });
}

async function replayAll(bundle: { code: string }): Promise<Map<string, Error | undefined>> {
  const results = new Map<string, Error | undefined>();
  const input = histories.map(({ workflowId, history }) => ({ workflowId, history }));
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, input))
    results.set(r.workflowId, r.error);
  return results;
}

test('an unpatched change to a workflow fails the replay of its history; the same change behind patched passes', async () => {
  const unpatched = await replayAll(await changedBundle('unpatched'));
  assert.equal(unpatched.size, histories.length);
  for (const { file, workflowId } of histories) {
    const error = unpatched.get(workflowId);
    assert.ok(error instanceof DeterminismViolationError, `${file}: ${error}`);
    // the change itself, not anything else, is what replay trips on: its timer meets the next recorded
    // event, a command's or a patch marker's
    assert.match(
      error.message,
      /Nondeterminism error: (Timer machine does not handle this event|Non-deprecated patch marker encountered)/,
      file,
    );
  }
  const patched = await replayAll(await changedBundle('patched'));
  assert.equal(patched.size, histories.length);
  for (const { file, workflowId } of histories) assert.equal(patched.get(workflowId), undefined, file);
});
