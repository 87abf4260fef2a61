// Checking a value against a generated validator: issues named by JSON path, bounded so a hostile input
// cannot make a huge error. Shared by the full set of validators (index.ts) and the workflows' own
// (workflow.ts), which import nothing else of the generated code.
import type { ValidateFunction } from 'ajv';

export interface SchemaIssue {
  /** JSON path of the offending value, e.g. `$.split.testFraction`. */
  path: string;
  /** The schema keyword that failed, e.g. `maximum`. */
  rule: string;
  message: string;
}

/** Issues named in an error message; the rest are counted. */
const ISSUES_SHOWN = 20;

/**
 * `path: message (rule); ...` for the first issues, then how many more there are: an array of a
 * thousand wrong items gives one short line, not a thousand-issue message.
 */
export function describeIssues(issues: SchemaIssue[]): string {
  const shown = issues.slice(0, ISSUES_SHOWN).map((i) => `${i.path}: ${i.message} (${i.rule})`);
  const more = issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more issue${more === 1 ? '' : 's'}` : '');
}

export class SchemaError extends Error {
  constructor(
    readonly what: string,
    readonly issues: SchemaIssue[],
  ) {
    super(`${what} is invalid: ${describeIssues(issues)}`);
    this.name = 'SchemaError';
  }
}

/** `/split/testFraction` -> `$.split.testFraction`; `/messages/0/role` -> `$.messages[0].role`. */
export function jsonPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (extra) parts.push(extra);
  let path = '$';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(part)
      ? `[${part}]`
      : /^[A-Za-z_$][\w$]*$/.test(part)
        ? `.${part}`
        : `[${JSON.stringify(part)}]`;
  }
  return path;
}

/**
 * A hostile input cannot make a huge error: of the issues at the same place in every item of an array
 * (`$.runs[0].x`, `$.runs[1].x`, ...) the first few are kept and the rest counted in one more issue,
 * and past ISSUES_KEPT the outermost are kept, a field's own problem (too many items, a wrong type)
 * before those of what it holds.
 */
const ISSUES_KEPT = 100;
const SAME_PLACE_KEPT = 5;

const depth = (path: string) => (path.match(/[.[]/g) ?? []).length;

function bounded(issues: SchemaIssue[]): SchemaIssue[] {
  const perPlace = new Map<string, number>();
  const kept: SchemaIssue[] = [];
  for (const issue of issues) {
    const place = issue.path.replace(/\[\d+\]/g, '[*]');
    const seen = (perPlace.get(place) ?? 0) + 1;
    perPlace.set(place, seen);
    if (seen <= SAME_PLACE_KEPT) kept.push(issue);
  }
  for (const [place, seen] of perPlace)
    if (seen > SAME_PLACE_KEPT)
      kept.push({ path: place, rule: 'more', message: `${seen - SAME_PLACE_KEPT} more issues like those above` });
  if (kept.length <= ISSUES_KEPT) return kept;
  return kept
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => depth(a.issue.path) - depth(b.issue.path) || a.i - b.i)
    .slice(0, ISSUES_KEPT)
    .map((x) => x.issue);
}

function issuesOf(validate: ValidateFunction): SchemaIssue[] {
  const issues = (validate.errors ?? []).map((e) => {
    const params = e.params as Record<string, unknown>;
    const extra =
      e.keyword === 'required'
        ? String(params.missingProperty)
        : e.keyword === 'additionalProperties'
          ? String(params.additionalProperty)
          : undefined;
    let message = e.message ?? e.keyword;
    if (e.keyword === 'additionalProperties') message = 'is not a known field';
    if (e.keyword === 'enum') message += `: ${JSON.stringify(params.allowedValues)}`;
    return { path: jsonPath(e.instancePath, extra), rule: e.keyword, message };
  });
  return bounded(issues);
}

export function checker<Out>(validate: ValidateFunction, what: string) {
  return {
    /** Returns the value with defaults filled in (on a copy), or the list of issues. */
    check(value: unknown): { ok: true; value: Out } | { ok: false; issues: SchemaIssue[] } {
      const copy = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
      if (validate(copy)) return { ok: true, value: copy as Out };
      return { ok: false, issues: issuesOf(validate) };
    },
    /** Returns the value with defaults filled in, or throws a SchemaError naming every bad field. */
    parse(value: unknown): Out {
      const result = this.check(value);
      if (!result.ok) throw new SchemaError(what, result.issues);
      return result.value;
    },
  };
}
