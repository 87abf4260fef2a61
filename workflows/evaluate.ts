import { upsertSearchAttributes } from '@temporalio/workflow';
import { schemas, type EvaluateInputInput, type EvaluateOutput } from '../schemas/workflow';
import { METRIC, STAGE } from './search-attributes';
import { deviceActivities } from './stages';
import { extractorIssues, invalidInput, validateInput } from './validate';

type Accuracy = EvaluateOutput['general'];

function meanOf(results: EvaluateOutput['results'], role: 'general' | 'downstream'): Accuracy {
  const rs = results.filter((r) => r.role === role);
  if (rs.length === 0) return null;
  return {
    strict: rs.reduce((s, r) => s + r.strict, 0) / rs.length,
    lenient: rs.reduce((s, r) => s + r.lenient, 0) / rs.length,
  };
}

/** Evaluates a model on a benchmark suite, a device activity per benchmark; see evaluate-input.schema.json. */
export async function evaluate(input: EvaluateInputInput): Promise<EvaluateOutput> {
  const resolved = validateInput(schemas.evaluateInput, input, 'evaluate');
  const names = resolved.benchmarks.map((b) => b.name);
  const duplicate = names.findIndex((n, i) => names.indexOf(n) !== i);
  if (duplicate >= 0) {
    throw invalidInput('evaluate', [
      { path: `$.benchmarks[${duplicate}].name`, rule: 'unique', message: `"${names[duplicate]}" is listed twice` },
    ]);
  }
  const issues = extractorIssues(resolved.benchmarks);
  if (issues.length) throw invalidInput('evaluate', issues);
  upsertSearchAttributes([{ key: STAGE, value: 'evaluate' }]);
  const { evaluateBenchmark } = deviceActivities(resolved.device, 'batch');
  // all at once: the device worker runs them one at a time, and the results come back in order
  const results = await Promise.all(
    resolved.benchmarks.map((benchmark) =>
      evaluateBenchmark({ model: resolved.model, benchmark, batchSize: resolved.batchSize }),
    ),
  );
  const output: EvaluateOutput = {
    results,
    general: meanOf(results, 'general'),
    downstream: meanOf(results, 'downstream'),
  };
  upsertSearchAttributes([
    { key: STAGE, value: 'done' },
    ...(output.general ? [{ key: METRIC, value: output.general.strict }] : []),
  ]);
  return output;
}
