import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { WORKFLOW_TYPES } from './names';

/**
 * The workflow a worker runs for a type it does not have (the SDK's default workflow). Without it the
 * first workflow task fails, and the server retries it for ever while the run stays Running; this fails
 * the run at once, non-retryably, naming the types there are.
 */
export async function unknownWorkflowType(): Promise<never> {
  const type = workflowInfo().workflowType;
  throw ApplicationFailure.create({
    type: 'UnknownWorkflowType',
    nonRetryable: true,
    message: `there is no workflow "${type}" on task queue "${workflowInfo().taskQueue}"; the workflows are: ${WORKFLOW_TYPES.join(', ')}`,
  });
}
