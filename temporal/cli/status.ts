import { connectClient } from '../connection';
import { EXIT, out, printResult, uiLink, type Command } from './common';
import { isWorkflowName } from './render';

export const status: Command = {
  name: 'status',
  help: `rewrite-rl status <workflow-id> [--json]  a workflow's status (and result when done)`,
  flags: { json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(s, [workflowId], v) {
    const client = await connectClient(s);
    try {
      const handle = client.workflow.getHandle(workflowId);
      const d = await handle.describe();
      const lines = [`${workflowId}: ${d.status.name} (type ${d.type}, started ${d.startTime.toISOString()})`];
      for (const pair of d.typedSearchAttributes.getAll())
        lines.push(`  ${pair.key.name} = ${JSON.stringify(pair.value)}`);
      const link = uiLink(s, workflowId);
      if (link) lines.push(`  ${link}`);
      // with --json stdout holds only the result
      const say = v.json ? (l: string) => process.stderr.write(l + '\n') : out;
      lines.forEach((l) => say(l));
      if (d.status.name === 'RUNNING') return EXIT.running;
      if (d.status.name !== 'COMPLETED') return EXIT.failed;
      const result = await handle.result();
      if (isWorkflowName(d.type)) printResult(s, d.type, result, !!v.json);
      else out(JSON.stringify(result, null, 2));
      return EXIT.ok;
    } finally {
      await client.connection.close();
    }
  },
};
