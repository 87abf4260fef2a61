import { readFile } from 'node:fs/promises';
import { START_FLAGS, START_HELP, startAndWait, startOptions, UsageError, type Command } from './common';
import { isWorkflowName, WORKFLOW_NAMES } from './render';

export const run: Command = {
  name: 'run',
  help: `rewrite-rl run <workflow> --input F      start a workflow with the JSON object in file F and wait
                                           (${START_HELP})`,
  flags: { input: { type: 'string' }, ...START_FLAGS },
  positionals: [1, 1],
  async run(s, [workflow], v) {
    // a name no worker registers would wait forever for a worker that never comes
    if (!isWorkflowName(workflow))
      throw new UsageError(`unknown workflow "${workflow}": the workflows are ${WORKFLOW_NAMES.join(', ')}`);
    const file = v.input as string | undefined;
    if (!file) throw new UsageError('run expects <workflow> --input file.json');
    let input: unknown;
    try {
      input = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`--input ${file}: ${(e as Error).message}`);
    }
    return startAndWait(s, workflow, input, startOptions(v));
  },
};
