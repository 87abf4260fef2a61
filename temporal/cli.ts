// The rewrite-rl command line: finds the command (temporal/cli/index.ts), parses its own flags
// strictly, runs it, and turns what went wrong into the exit codes a script can rely on:
//   0 success · 1 the workflow failed, or there was nothing to do · 2 bad usage or invalid input
//   3 no Temporal server reachable or findable · 4 the workflow is still running
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ServerUnreachableError } from '../workers/connection';
import { settingsFromEnv } from '../workers/settings';
import { TemporalNotFoundError } from './binary';
import { EXIT, err, out, quietLog, UsageError, type Command } from './cli/common';
import { COMMANDS, findCommand } from './cli/index';

export { EXIT } from './cli/common';

function help(): string {
  return `rewrite-rl — RL data rewriting for stable off-policy SFT, on Temporal

Usage:
${COMMANDS.map((c) => `  ${c.help}`).join('\n')}

\`rewrite-rl <command> --help\` shows one command.
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* (a real server or
cluster), REWRITE_RL_HOME (data folder, default ./.rewrite-rl), REWRITE_RL_ARTIFACTS (artifact store),
REWRITE_RL_SERVER_PORT and REWRITE_RL_UI_PORT (the dev server's ports).
Exit codes: 0 ok, 1 workflow failed, 2 bad usage or input, 3 no server, 4 still running.`;
}

/** The command's flags and positionals, or a UsageError naming the flag or argument it does not take. */
function parseFor(c: Command, args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...c.flags, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const message = (e as Error).message;
    const flag = /^Unknown option '([^']+)'/.exec(message)?.[1];
    const known = Object.keys(c.flags).map((f) => `--${f}`);
    if (flag)
      throw new UsageError(
        `${c.name} does not take ${flag} (${known.length > 0 ? `its flags: ${known.join(', ')}` : 'it takes no flags'})`,
      );
    throw new UsageError(`${c.name}: ${message.split('. ')[0]}`);
  }
  const [min, max] = c.positionals;
  const pos = parsed.positionals;
  if (!parsed.values.help && pos.length < min)
    throw new UsageError(`${c.name} is missing an argument; usage: ${c.help.split(/\n|\s{3,}/)[0]}`);
  if (pos.length > max) throw new UsageError(`${c.name} does not take the argument "${pos[max]}"`);
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: pos };
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    out(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = findCommand(name);
  if (!command)
    throw new UsageError(`unknown command "${name}" (the commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
  const { values, positionals } = parseFor(command, rest);
  if (values.help) {
    out(command.help);
    return EXIT.ok;
  }
  // Workers started by commands only say something when it matters; `worker` logs as usual.
  if (command.name !== 'worker') Runtime.install({ logger: new DefaultLogger('WARN', quietLog) });
  return command.run(settingsFromEnv(), positionals, values);
}

export async function cli(argv: string[]): Promise<never> {
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`rewrite-rl: ${e.message}\n(run \`rewrite-rl --help\`)`);
      code = EXIT.usage;
    } else if (e instanceof ServerUnreachableError || e instanceof TemporalNotFoundError) {
      err(`rewrite-rl: ${(e as Error).message}`);
      code = EXIT.noServer;
    } else {
      err(`rewrite-rl: ${(e as Error).stack ?? e}`);
      code = EXIT.failed;
    }
  }
  process.exit(code);
}
