import { connectClient } from '../connection';
import { costsTable, fetchFrom, runCosts } from '../run-costs';
import { EXIT, out, type Command } from './common';

export const costs: Command = {
  name: 'costs',
  help: `rewrite-rl costs <workflow-id> [--json]  where a run's time went: each stage (a child workflow,
                                           or an activity of the run) with its time on a worker and
                                           in its task queue, then the work per task queue`,
  flags: { json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(s, [workflowId], v) {
    const client = await connectClient(s);
    try {
      const r = await runCosts(fetchFrom(client), workflowId);
      if (v.json) out(JSON.stringify(r, null, 2));
      else costsTable(r).forEach((l) => out(l));
      return EXIT.ok;
    } finally {
      await client.connection.close();
    }
  },
};
