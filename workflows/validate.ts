import { ApplicationFailure } from '@temporalio/workflow';
import { describeIssues, type BenchmarkSpec, type SchemaIssue } from '../schemas/workflow';
import { regexProblem } from '../schemas/regex-safety';

interface Checker<T> {
  check(value: unknown): { ok: true; value: T } | { ok: false; issues: SchemaIssue[] };
}

/**
 * The first thing every workflow does: validate its one argument against its schema. Bad input fails
 * the workflow at once, before any activity runs, with a non-retryable error naming each JSON path and rule.
 */
export function validateInput<T>(checker: Checker<T>, input: unknown, workflow: string): T {
  const result = checker.check(input);
  if (result.ok) return result.value;
  throw invalidInput(workflow, result.issues);
}

/** The non-retryable failure for bad workflow input, naming each JSON path and rule. */
export function invalidInput(workflow: string, issues: SchemaIssue[]): ApplicationFailure {
  return ApplicationFailure.create({
    message: `${workflow} input is invalid: ${describeIssues(issues)}`,
    type: 'InvalidInput',
    nonRetryable: true,
    details: [issues],
  });
}

/** What a schema cannot say about answer extractors: a 'regex' one needs a pattern that is safe to run. */
export function extractorIssues(benchmarks: Pick<BenchmarkSpec, 'extractor'>[], at = '$.benchmarks'): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  benchmarks.forEach((b, i) => {
    if (b.extractor.kind !== 'regex') return;
    const path = `${at}[${i}].extractor.pattern`;
    if (b.extractor.pattern === undefined)
      issues.push({ path, rule: 'required', message: 'a "regex" extractor needs a pattern' });
    else {
      const problem = regexProblem(b.extractor.pattern);
      if (problem) issues.push({ path, rule: 'safeRegex', message: problem });
    }
  });
  return issues;
}
