// Orchestration overhead of a finished run, read from its history: the wall time during which no
// activity or child workflow of the run was scheduled or running, against the whole run.
//   npx tsx scripts/orchestration-overhead.ts <workflow-id> [--address host:port]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { findTemporalBinary } from '../temporal/binary';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { address: { type: 'string' } } });
const [id] = positionals;
if (!id) throw new Error('usage: orchestration-overhead <workflow-id> [--address host:port]');
const binary = findTemporalBinary()?.binary;
if (!binary) throw new Error('no temporal binary found');
const runs = JSON.parse(
  execFileSync(
    binary,
    ['workflow', 'list', '--address', values.address ?? '127.0.0.1:7233', '-q', `WorkflowId="${id}"`, '-o', 'json'],
    {
      encoding: 'utf8',
    },
  ),
) as { execution: { runId: string } }[];
if (!runs.length)
  throw new Error(`no workflow ${id} on ${values.address ?? '127.0.0.1:7233'} (another server: --address)`);
type Event = { eventTime: string; eventType: string };
let busy = 0;
let wall = 0;
for (const run of runs) {
  const h = JSON.parse(
    execFileSync(
      binary,
      [
        'workflow',
        'show',
        '--address',
        values.address ?? '127.0.0.1:7233',
        '-w',
        id,
        '-r',
        run.execution.runId,
        '-o',
        'json',
      ],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      },
    ),
  ) as { events: Event[] };
  const t = (e: Event) => Date.parse(e.eventTime);
  const ev = h.events;
  wall += t(ev[ev.length - 1]) - t(ev[0]);
  // intervals from an activity's (or child's) scheduling to its completion are work, the rest is orchestration
  let open = 0;
  let since = 0;
  for (const e of ev) {
    const start = /ACTIVITY_TASK_SCHEDULED|START_CHILD_WORKFLOW_EXECUTION_INITIATED/.test(e.eventType);
    const end =
      /ACTIVITY_TASK_(COMPLETED|FAILED|TIMED_OUT|CANCELED)|CHILD_WORKFLOW_EXECUTION_(COMPLETED|FAILED|TIMED_OUT|CANCELED|TERMINATED)/.test(
        e.eventType,
      );
    if (start) {
      if (open === 0) since = t(e);
      open++;
    } else if (end) {
      open--;
      if (open === 0) busy += t(e) - since;
    }
  }
}
console.log(
  `${id}: ${runs.length} run(s), wall ${(wall / 1000).toFixed(1)} s, in activities ${(busy / 1000).toFixed(1)} s, ` +
    `orchestration ${((wall - busy) / 1000).toFixed(1)} s = ${((100 * (wall - busy)) / wall).toFixed(2)}% of wall time`,
);
