// The check every workflow's bad-input test makes: the run fails with an InvalidInput failure whose
// message matches, and it started nothing (no activity, no child) before failing.
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_QUEUE } from '../../workers/settings';

export async function failsAsInvalidInput(
  env: TestWorkflowEnvironment,
  workflow: string,
  workflowId: string,
  input: unknown,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(
    env.client.workflow.execute(workflow, { taskQueue: TASK_QUEUE, workflowId, args: [input] }),
    (e: Error) => {
      const cause = e.cause as Error & { type?: string };
      assert.equal(cause.type, 'InvalidInput', cause.message);
      assert.match(cause.message, pattern);
      return true;
    },
  );
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const started = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes,
  );
  assert.equal(started.length, 0, `${workflowId} started nothing before failing`);
}
