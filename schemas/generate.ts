// Builds the generated validator and type files from the JSON Schemas (see scripts/gen-schemas.ts).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import standaloneCode from 'ajv/dist/standalone';

type Schema = Record<string, unknown>;

export const schemaDir = join(import.meta.dirname, 'json');

/**
 * What a schema file says about its own checker, beside the schema: `"x-label"`, the name its errors
 * use ("<label> is invalid: ..."; default: the file name's words, `import-dataset-output` -> "importDataset
 * output"), and `"x-workflow": true` for a schema a workflow validates. They are read here and stripped
 * before compiling, so the generated validators and types carry none of them.
 */
const ANNOTATIONS = ['x-label', 'x-workflow'] as const;

export interface SchemaEntry {
  file: string;
  /** The schema without the annotations. */
  schema: Schema;
  /** Its key in `schemas` (schemas/index.ts): import-dataset-input.schema.json -> importDatasetInput. */
  key: string;
  label: string;
  workflow: boolean;
}

const words = (file: string) => file.replace('.schema.json', '').split('-');
const camelWords = (w: string[]) => w.map((x, i) => (i ? x.charAt(0).toUpperCase() + x.slice(1) : x)).join('');

/** Every schema file, by file name, with what it says about its checker. */
export function schemaEntries(): Map<string, SchemaEntry> {
  const entries = new Map<string, SchemaEntry>();
  for (const file of readdirSync(schemaDir).sort()) {
    if (!file.endsWith('.schema.json')) continue;
    const raw = JSON.parse(readFileSync(join(schemaDir, file), 'utf8')) as Schema;
    const schema = Object.fromEntries(
      Object.entries(raw).filter(([k]) => !(ANNOTATIONS as readonly string[]).includes(k)),
    );
    const w = words(file);
    const label = raw['x-label'] ?? (w.length > 1 ? `${camelWords(w.slice(0, -1))} ${w.at(-1)}` : w[0]);
    if (typeof label !== 'string') throw new Error(`schemas/json/${file}: "x-label" must be a string`);
    if (raw['x-workflow'] !== undefined && raw['x-workflow'] !== true)
      throw new Error(`schemas/json/${file}: "x-workflow" is true or absent`);
    entries.set(file, { file, schema, key: camelWords(w), label, workflow: raw['x-workflow'] === true });
  }
  return entries;
}

/** Every schema file (without the annotations), keyed by file name. */
export function loadSchemas(): Map<string, Schema> {
  return new Map([...schemaEntries()].map(([file, e]) => [file, e.schema]));
}

/** Validator export name for a schema file: import-dataset-input.schema.json -> validateImportDatasetInput. */
export function validatorName(file: string): string {
  const base = file.replace('.schema.json', '');
  return 'validate' + base.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/**
 * The schemas the workflows validate (their inputs, and trainRewriter's update), the ones marked
 * `"x-workflow": true`: their validators and checkers go into files of their own (workflow-validators.cjs,
 * workflow-checkers.ts), so the workflow bundle does not carry every activity's.
 */
export const WORKFLOW_SCHEMA_FILES = [...schemaEntries().values()].filter((e) => e.workflow).map((e) => e.file);

export function makeAjv(): Ajv2020 {
  return new Ajv2020({
    allErrors: true,
    useDefaults: true,
    strict: true,
    strictTypes: false,
    code: { source: true, lines: true },
  });
}

function camel(file: string): string {
  return validatorName(file).replace(/^validate(.)/, (_m, c: string) => c.toLowerCase()) + 'Schema';
}

/**
 * Keywords that only document: the compiled validators leave them out (the JSON files and types.ts keep
 * them), so the workflow bundle, loaded into every workflow sandbox, does not carry the schemas' prose.
 * Values (a default, a const, an enum) are kept whole, and a property's name is never taken for a keyword.
 */
const DOC_KEYWORDS = new Set(['description', '$comment', 'examples']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const VALUES = new Set(['default', 'const', 'enum']);

export function withoutDocs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDocs);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k]) => !DOC_KEYWORDS.has(k))
      .map(([k, v]) => [
        k,
        VALUES.has(k)
          ? v
          : SCHEMA_MAPS.has(k)
            ? Object.fromEntries(Object.entries(v as object).map(([name, sub]) => [name, withoutDocs(sub)]))
            : withoutDocs(v),
      ]),
  );
}

/** `key: checker<T.Title>(validators.validateX, 'label'),` for each entry: a table of checkers. */
function checkerTable(entries: SchemaEntry[]): string {
  return entries
    .map((e) => {
      const title = e.schema.title;
      if (typeof title !== 'string') throw new Error(`schemas/json/${e.file} has no title (its type's name)`);
      return `  ${e.key}: checker<T.${title}>(validators.${validatorName(e.file)}, ${JSON.stringify(e.label)}),\n`;
    })
    .join('');
}

export function generatedFiles(): Record<string, string> {
  const entries = [...schemaEntries().values()].filter((e) => e.file !== 'common.schema.json');
  const schemas = loadSchemas();
  const ajv = makeAjv();
  const exports: Record<string, string> = {};
  for (const [file, schema] of schemas) {
    ajv.addSchema(withoutDocs(schema) as Schema);
    if (file !== 'common.schema.json') exports[validatorName(file)] = String(schema.$id);
  }
  const header = '// Generated by scripts/gen-schemas.ts from schemas/json. Do not edit.\n';
  const dtsOf = (names: string[]) =>
    header +
    "import type { ValidateFunction } from 'ajv';\n" +
    names.map((name) => `export declare const ${name}: ValidateFunction;\n`).join('');
  const workflowExports = Object.fromEntries(
    WORKFLOW_SCHEMA_FILES.map((file) => [validatorName(file), exports[validatorName(file)]]),
  );

  // Types come from the schemas themselves through json-schema-to-ts: `X` is a value after validation
  // (defaults filled in), `XInput` what a caller may pass (defaulted fields optional).
  let types = header + "import type { FromSchema } from 'json-schema-to-ts';\n\n";
  const names = [...schemas.keys()].map(camel);
  for (const [file, schema] of schemas)
    types += `export const ${camel(file)} = ${JSON.stringify(schema, null, 2)} as const;\n\n`;
  const refs = `references: [${names.map((n) => `typeof ${n}`).join(', ')}]`;
  for (const [file, schema] of schemas) {
    if (file === 'common.schema.json') continue;
    const title = String(schema.title);
    types += `export type ${title} = FromSchema<typeof ${camel(file)}, { ${refs} }>;\n`;
    types += `export type ${title}Input = FromSchema<typeof ${camel(file)}, { ${refs}; keepDefaultedPropertiesOptional: true }>;\n`;
  }
  // The checkers (schemas/index.ts and schemas/workflow.ts export them as `schemas`): the workflows' from
  // their own validators, and the full table, which takes those and adds the rest.
  const tableHeader = header + "import type * as T from './types';\nimport { checker } from '../check';\n";
  const workflowCheckers =
    tableHeader +
    "import * as validators from './workflow-validators.cjs';\n\n" +
    'export const workflowCheckers = {\n' +
    checkerTable(entries.filter((e) => e.workflow)) +
    '};\n';
  const checkers =
    tableHeader +
    "import * as validators from './validators.cjs';\nimport { workflowCheckers } from './workflow-checkers';\n\n" +
    'export const checkers = {\n  ...workflowCheckers,\n' +
    checkerTable(entries.filter((e) => !e.workflow)) +
    '};\n';
  return {
    'checkers.ts': checkers,
    'workflow-checkers.ts': workflowCheckers,
    'validators.cjs': header + standaloneCode(ajv, exports),
    'validators.d.cts': dtsOf(Object.keys(exports)),
    'workflow-validators.cjs': header + standaloneCode(ajv, workflowExports),
    'workflow-validators.d.cts': dtsOf(Object.keys(workflowExports)),
    'types.ts': types,
  };
}
