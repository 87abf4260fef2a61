// Generates, from schemas/json/*.schema.json, the files the code uses:
//   schemas/generated/validators.cjs ajv standalone validators (no code generation at run time, so
//                                    they run inside Temporal's deterministic workflow sandbox)
//   schemas/generated/types.ts       TypeScript types, so no type is written twice
//   schemas/generated/checkers.ts    the `schemas` table of checkers (and workflow-checkers.ts, the
//                                    workflows' own, over workflow-validators.cjs)
// Run with `npm run gen:schemas`; test/schemas.test.ts fails when the committed files are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles } from '../schemas/generate';

const outDir = join(import.meta.dirname, '..', 'schemas', 'generated');
mkdirSync(outDir, { recursive: true });
for (const [name, text] of Object.entries(generatedFiles())) {
  writeFileSync(join(outDir, name), text);
  console.log(`wrote schemas/generated/${name}`);
}
