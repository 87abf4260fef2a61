#!/usr/bin/env node
// The TypeScript sources run through tsx (Node 20 cannot strip types itself).
import { register } from 'tsx/esm/api';

register();
const { cli } = await import('../temporal/cli.ts');
await cli(process.argv.slice(2));
