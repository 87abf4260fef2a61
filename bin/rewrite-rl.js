#!/usr/bin/env node
// In a checkout the TypeScript sources run through tsx (Node 20 cannot strip types itself); the
// installed package runs its compiled dist/.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const source = new URL('../temporal/cli.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ cli } = await import(source.href));
} else {
  ({ cli } = await import('../dist/temporal/cli.js'));
}
await cli(process.argv.slice(2));
