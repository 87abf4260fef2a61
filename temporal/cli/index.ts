// The registry of commands: one module each, with its own flags. A new command is a module here and a
// line in COMMANDS.
import type { Command } from './common';
import { costs } from './costs';
import { importCommand } from './import';
import { pipeline } from './pipeline';
import { probe } from './probe';
import { run } from './run';
import { server } from './server';
import { status } from './status';
import { trainRewriter } from './train-rewriter';
import { worker } from './worker';
import { world } from './world';

export const COMMANDS: Command[] = [
  pipeline,
  world,
  server,
  worker,
  run,
  status,
  costs,
  importCommand,
  probe,
  trainRewriter,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
