// Every worker of one deployment must share one artifact store: a workflow's CPU activity writes a
// file that its device activity then reads by URI. Two workers with different roots on the project's
// task queues would fail far from the cause ("no such file in the artifact store"), or worse, each use
// a store of its own. So each worker carries its root in its identity, which the server reports for
// every poller of a task queue, and a worker refuses to start where another one polls with another root.
import { hostname } from 'node:os';
import proto from '@temporalio/proto';

const { TaskQueueType } = proto.temporal.api.enums.v1;
const MARK = ' rewrite-rl-artifacts=';

/** The Worker's default identity with the artifact root after it (the root last: it may hold spaces). */
export function identityWithRoot(identity: string | undefined, root: string): string {
  return `${identity ?? `${process.pid}@${hostname()}`}${MARK}${root}`;
}

/** The artifact root a poller's identity carries, if it is a rewrite-rl worker's. */
export function rootOfIdentity(identity: string): string | undefined {
  const at = identity.indexOf(MARK);
  return at < 0 ? undefined : identity.slice(at + MARK.length);
}

/** The one call used, as a worker's `NativeConnection` and a client `Connection` both have it. */
export interface TaskQueueConnection {
  workflowService: {
    describeTaskQueue(req: proto.temporal.api.workflowservice.v1.IDescribeTaskQueueRequest): Promise<{
      pollers?: proto.temporal.api.taskqueue.v1.IPollerInfo[] | null;
    }>;
  };
}

export class ArtifactRootConflictError extends Error {
  override name = 'ArtifactRootConflictError';
  constructor(
    readonly root: string,
    readonly otherRoot: string,
    readonly taskQueue: string,
    readonly otherIdentity: string,
    secondsAgo: number,
  ) {
    super(
      `this worker's artifact root is ${root}, but the worker "${otherIdentity.slice(0, otherIdentity.indexOf(MARK))}" ` +
        `polled the task queue ${taskQueue} ${secondsAgo} s ago with the artifact root ${otherRoot}; the workers of ` +
        `one namespace must share one store (their activities read each other's files). Start this worker with the ` +
        `same root (the plugin's artifactRoot option or REWRITE_RL_ARTIFACTS), or stop the other one (the server ` +
        `forgets a poller about 5 minutes after its last poll; a worker refused like this one may have polled once).`,
    );
  }
}

/**
 * Refuses a root that differs from that of any worker seen polling one of `taskQueues` (workflow and
 * activity pollers) in this namespace. A worker that started at the same instant is not seen yet.
 */
export async function checkArtifactRoot(
  connection: TaskQueueConnection,
  namespace: string,
  taskQueues: string[],
  root: string,
): Promise<void> {
  for (const name of new Set(taskQueues))
    for (const taskQueueType of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name },
        taskQueueType,
      });
      for (const p of pollers ?? []) {
        const other = p.identity ? rootOfIdentity(p.identity) : undefined;
        if (other === undefined || other === root) continue;
        const seconds = p.lastAccessTime?.seconds;
        const ago = seconds === undefined || seconds === null ? 0 : Math.max(0, Date.now() / 1000 - Number(seconds));
        throw new ArtifactRootConflictError(root, other, name, p.identity!, Math.round(ago));
      }
    }
}
