// pipelineReport on hand-made runs in a real temporary artifact store: the three files, the figures
// inline in the HTML, numbers equal to the statistics functions' on the same items, idempotency, and
// bad references named by their field.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { pipelineReport } from '../activities/pipeline-report';
import { dataStats, type SftRecord } from '../method/data-stats';
import { forgetting, type BenchmarkScores } from '../method/forgetting';
import { pooledReport } from '../method/statistics';
import { schemas, type PipelineReportInputInput } from '../schemas';
import { tempDir } from './helpers/temporal';

const ITEMS = 20;
const BENCHMARKS = { g1: 'general', g2: 'general', d1: 'downstream' } as const;
/** Items wrong (strict; lenient: one fewer) per model and benchmark, in run `seed`. */
const WRONG: Record<string, (b: string, seed: number) => number> = {
  base: (b) => (b === 'd1' ? 18 : 1),
  vanilla: (b, seed) => (b === 'd1' ? 1 : 12 + seed),
  rl: (b, seed) => (b === 'd1' ? 2 : 7 + seed),
  oracle: (b) => (b === 'd1' ? 1 : 5),
};

async function putEvaluation(store: ArtifactStore, run: string, who: string, seed: number) {
  const out = [];
  const scores = { strict: new Map(), lenient: new Map() } as Record<'strict' | 'lenient', BenchmarkScores>;
  for (const [benchmark, role] of Object.entries(BENCHMARKS)) {
    const wrong = WRONG[who](benchmark, seed);
    // the wrong items differ by model (shifted), so the pairing matters
    const shift = Object.keys(WRONG).indexOf(who) * 3;
    const isWrong = (i: number, n: number) => (i + shift) % ITEMS < n;
    const rows = Array.from({ length: ITEMS }, (_, i) => ({
      id: `${benchmark}-${i}`,
      strict: { correct: !isWrong(i, wrong) },
      lenient: { correct: !isWrong(i, Math.max(0, wrong - 1)) },
    }));
    const ref = `evaluations/${run}/${who}/${benchmark}`;
    await store.writeFile(`${ref}/predictions.jsonl`, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    out.push({ benchmark, role, uri: ref, items: ITEMS });
    for (const x of ['strict', 'lenient'] as const)
      scores[x].set(benchmark, new Map(rows.map((r) => [r.id, Number(r[x].correct)])));
  }
  return { evaluation: out, scores };
}

function records(arm: string, seed: number): SftRecord[] {
  return Array.from({ length: 6 }, (_, i) => {
    const original = `${i} + ${seed} = ${i + seed}; 1 + 1 = 2.\n\\boxed{${i + seed}}`;
    if (arm !== 'rl') return { id: `r${i}`, question: `What is ${i} + ${seed}?`, answer: original };
    const success = i % 3 !== 2;
    return {
      id: `r${i}`,
      question: `What is ${i} + ${seed}?`,
      answer: success ? `1 + 1 = 2\n${i} + ${seed} = ${i + seed}\n\\boxed{${i + seed}}` : original,
      original,
      rewrite_success: success,
      num_rewrite_trials: 4,
      chosen: success ? 0 : null,
      ...(success ? { chosen_reward: { gate: 1, dist: 0.5, div: 0.1, reward: 1.2 + i / 10 } } : {}),
    };
  });
}

async function putStore() {
  const store = new ArtifactStore(await tempDir());
  const expected: Record<string, { strict: { base: BenchmarkScores; arms: Record<string, BenchmarkScores> }[] }> = {};
  const runs: PipelineReportInputInput['runs'] = [];
  for (const [backbone, seed] of [
    ['world-seed-0', 0],
    ['world-seed-0', 1],
    ['world-seed-1', 0],
  ] as const) {
    const run = `${backbone}-${seed}`;
    const base = await putEvaluation(store, run, 'base', seed);
    const arms: PipelineReportInputInput['runs'][number]['arms'] = {};
    const armScores: Record<string, BenchmarkScores> = {};
    for (const arm of ['vanilla', 'rl', 'oracle']) {
      const e = await putEvaluation(store, run, arm, seed);
      armScores[arm] = e.scores.strict;
      const rows = records(arm, seed);
      const dataset = `data/${run}/${arm}.jsonl`;
      await store.writeFile(dataset, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      let embeddings: string | undefined;
      if (arm === 'rl') {
        embeddings = `scores/${run}/rl/embeddings.jsonl`;
        const unit = (i: number) => [Math.cos(i), Math.sin(i)];
        await store.writeFile(
          embeddings,
          rows.map((r, i) => JSON.stringify({ id: r.id, embedding: unit(i) })).join('\n'),
        );
      }
      const meanNll = { vanilla: 3.8, rl: 2.2, oracle: 1.2 }[arm]!;
      arms[arm] = {
        evaluation: e.evaluation,
        dataset,
        score: { meanNll, tokens: 60, records: rows.length, ...(embeddings ? { embeddings } : {}) },
      };
    }
    runs.push({ seed, backbone, base: base.evaluation, arms });
    (expected[backbone] ??= { strict: [] }).strict.push({ base: base.scores.strict, arms: armScores });
  }
  const metrics = 'rewriter/r0/metrics.jsonl';
  await store.writeFile(
    metrics,
    [0, 1, 2, 3]
      .map((step) =>
        JSON.stringify({
          step,
          fullPassRate: step / 10,
          answerPassRate: step / 5,
          rewardMean: 0.5 + step / 10,
          feasibleNll: 2 - step / 10,
          ...(step % 2 === 0 ? { val: { greedyFullPassRate: step / 8, kFullPassRate: step / 6 } } : {}),
        }),
      )
      .join('\n') + '\n',
  );
  // a validated step of the rewriter: 4 records, 3 samples each
  const validation = 'rewriter/r0/validation/000020/validation.jsonl';
  const passing = [
    [false, true, false],
    [false, false, false],
    [true, true, false],
    [false, false, true],
  ];
  await store.writeFile(
    validation,
    passing
      .map((p, i) => JSON.stringify({ id: `v${i}`, samples: p.map((full) => ({ text: '', full, answer: true })) }))
      .join('\n') + '\n',
  );
  const input: PipelineReportInputInput = {
    name: 'test-report',
    runs,
    resamples: 300,
    rewriter: { metrics, validations: [validation] },
    passAtK: [1, 2, 4].flatMap((k) => [
      { arm: 'rl', k, passRate: 0.2 * k },
      { arm: 'prompted', k, passRate: 0.1 * k },
    ]),
    mixtures: [
      { arm: 'oracle-50', oracleShare: 0.5, nll: 2.5, forgetting: { strict: iv(50), lenient: iv(45) } },
      { arm: 'oracle-90', oracleShare: 0.9, nll: 1.5, forgetting: { strict: iv(40), lenient: iv(35) } },
      // an arm of the runs: its NLL and pooled forgetting come from them
      { arm: 'oracle', oracleShare: 1, backbone: 'world-seed-1' },
    ],
    samples: 3,
  };
  return { store, input, expected };
}

const iv = (value: number) => ({ value, low: value - 2, high: value + 2 });

test('pipelineReport: JSON, Markdown and a self-contained HTML page; numbers from the statistics functions', async () => {
  const { store, input, expected } = await putStore();
  const out = await pipelineReport(store, input);
  schemas.pipelineReportOutput.parse(out);
  assert.equal(out.reused, false);
  for (const f of [out.json, out.markdown, out.html]) assert.ok(existsSync(store.resolve(f)), f);
  // report.json is what its schema says
  schemas.reportModel.parse(JSON.parse(readFileSync(store.resolve(out.json), 'utf8')));
  assert.match(out.uri, /^artifact:\/\/reports\/test-report-[0-9a-f]{16}$/);

  // the pooled statistics are pooledReport's on the same items, for each backbone
  assert.deepEqual(
    out.groups.map((g) => [g.backbone, g.seeds]),
    [
      ['world-seed-0', [0, 1]],
      ['world-seed-1', [0]],
    ],
  );
  for (const g of out.groups) {
    const direct = pooledReport(expected[g.backbone].strict, ['g1', 'g2'], ['d1'], {
      resamples: 300,
      seed: 0,
      reference: 'vanilla',
      method: 'rl',
    });
    assert.deepEqual(g.strict, direct);
  }
  // each run alone: its mean forgetting is the paired bootstrap of method/forgetting.ts on its items
  const run0 = expected['world-seed-0'].strict[0];
  const paired = forgetting(run0.base, run0.arms, ['g1', 'g2'], { resamples: 300, seed: 0 });
  const json0 = JSON.parse(readFileSync(store.resolve(out.json), 'utf8')).runs[0].strict;
  for (const row of paired.rows) {
    const mine = json0.arms.find((a: { arm: string }) => a.arm === row.arm).mean;
    for (const k of ['value', 'low', 'high'] as const)
      assert.ok(Math.abs(mine[k] - row.mean[k]) < 1e-9, `${row.arm} ${k}`);
  }
  // hand-checkable: on world-seed-0, vanilla forgets (12 - 1 + 13 - 1) / 2 * 5 = 57.5 points, rl 32.5
  const g0 = out.groups[0].strict;
  assert.equal(g0.arms.find((a) => a.arm === 'vanilla')!.mean.value, 57.5);
  assert.equal(g0.arms.find((a) => a.arm === 'rl')!.mean.value, 32.5);
  assert.ok(Math.abs(g0.cut!.rows.find((r) => r.arm === 'rl')!.relative!.value - (1 - 32.5 / 57.5)) < 1e-12);

  // data statistics: the mean over the group's runs of dataStats on each run's records
  const stats = [0, 1].map((seed) =>
    dataStats({ records: records('rl', seed), score: { meanNll: 2.2, tokens: 60 }, embeddings: undefined }),
  );
  const rl = out.groups[0].data.rl;
  assert.equal(rl.rewriteSuccessRate, (stats[0].rewriteSuccessRate! + stats[1].rewriteSuccessRate!) / 2);
  assert.equal(rl.copyRate, 0);
  assert.ok(rl.embeddingDiversity! > 0);
  assert.equal(out.groups[0].data.vanilla.rewriteSuccessRate, null);

  const html = readFileSync(store.resolve(out.html), 'utf8');
  const md = readFileSync(store.resolve(out.markdown), 'utf8');
  const json = JSON.parse(readFileSync(store.resolve(out.json), 'utf8'));
  // two figures per backbone, two of the rewriter, pass rate against k (with the validated step): all inline
  assert.equal(html.match(/<svg /g)?.length, 7);
  assert.ok(!/<(img|script|link)\b/.test(html), 'nothing loaded from outside the page');
  const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'no id shared between inlined figures');
  for (const figure of ['forgetting-0.svg', 'plane-0.svg', 'rewriter-rates.svg', 'pass-at-k.svg']) {
    assert.ok(md.includes(`](${figure})`), figure);
    assert.ok(existsSync(store.resolve(`${out.uri}/${figure}`)));
  }
  for (const text of [
    'How to read this',
    'equals prompted at k = 1',
    'importance-weighting',
    'rl-no-div',
    'oracle mixtures',
  ])
    assert.ok(html.includes(text) || md.includes(text), text);
  // the sample rewrites: beside their originals, with the reward breakdown
  assert.deepEqual(
    json.samples.map((x: { id: string; rewriteSuccess: boolean }) => [x.id, x.rewriteSuccess]),
    [
      ['r0', true],
      ['r1', true],
      ['r3', true],
    ],
  );
  assert.match(md, /reward: gate 1\.000, dist 0\.500, div 0\.100, reward 1\.200/);
  assert.ok(html.includes('original (y*)'));
  // the tables' numbers are the JSON's
  const vanilla = json.groups[0].strict.arms.find((a: { arm: string }) => a.arm === 'vanilla').mean;
  const cell = `${vanilla.value.toFixed(1)} [${vanilla.low.toFixed(1)}, ${vanilla.high.toFixed(1)}]`;
  const section = md.split('### Forgetting per general benchmark, strict extraction')[1].split('###')[0];
  const rows = section.split('\n').filter((l) => l.startsWith('| vanilla | ') && l.endsWith(` | ${cell} |`));
  assert.equal(rows.length, 1, `vanilla's row of the strict per-benchmark table ends with the mean ${cell}`);
  assert.ok(html.includes(`<td>${cell}</td>`));
  // pass rate against k at the validated step: one sample 1 of 4 records, two 2 of 4, three 3 of 4
  assert.deepEqual(
    json.passAtK
      .filter((p: { arm: string }) => p.arm === 'rl-validation-step-20')
      .map((p: { passRate: number }) => p.passRate),
    [0.25, 0.5, 0.75],
  );
  const oracle1 = json.mixtures.find((x: { arm: string }) => x.arm === 'oracle');
  assert.equal(oracle1.nll, 1.2);
  assert.deepEqual(oracle1.forgetting.strict, out.groups[1].strict.arms.find((a) => a.arm === 'oracle')!.mean);
  assert.equal(json.mixtures.find((x: { arm: string }) => x.arm === 'oracle-50').backbone, 'world-seed-0');
  const again = await pipelineReport(store, input);
  schemas.pipelineReportOutput.parse(again);
  assert.equal(again.reused, true);
  assert.deepEqual({ ...again, reused: false }, out);
});

test("pipelineReport: an arm 'drop' left empty is listed with its records and left out of the pooled figures", async () => {
  const { store, input } = await putStore();
  const given = structuredClone(input);
  given.fallback = 'drop';
  // run 1 (world-seed-0, seed 1): no rl record passed the gate
  delete given.runs[1].arms.rl;
  given.runs[1].empty = { rl: { records: 6 } };
  const out = await pipelineReport(store, given);
  const json = JSON.parse(readFileSync(store.resolve(out.json), 'utf8'));
  assert.deepEqual(json.empty, [{ backbone: 'world-seed-0', seed: 1, arm: 'rl', records: 6 }]);
  // pooled over world-seed-0: only the arms fine-tuned in both runs; run 0 alone still has rl
  assert.deepEqual(
    out.groups[0].strict.arms.map((a) => a.arm),
    ['vanilla', 'oracle'],
  );
  assert.equal(out.groups[0].strict.versus, undefined);
  assert.deepEqual(
    out.groups[1].strict.arms.map((a) => a.arm),
    ['vanilla', 'rl', 'oracle'],
  );
  assert.deepEqual(
    json.runs[0].strict.arms.map((a: { arm: string }) => a.arm),
    ['vanilla', 'rl', 'oracle'],
  );
  const md = readFileSync(store.resolve(out.markdown), 'utf8');
  assert.match(md, /rl \(seed 1\): 0 records: nothing to fine-tune\. Fallback 'drop' left out all 6 records/);
  assert.match(md, /\| rl \| n\/a \| 0 records in seed 1: nothing to fine-tune \|/);
  assert.match(md, /\| rl \| 0 \(6\) in seed 1 \| 0 \|/);
  assert.match(md, /\| rl \| [^|]+ \| 0 records: nothing to fine-tune \|/, 'the per-run table');
  assert.ok(readFileSync(store.resolve(out.html), 'utf8').includes('0 records: nothing to fine-tune'));

  // whether an evaluation was reused is not content: a rerun's flagged evaluations find this report
  const flagged = structuredClone(given);
  for (const run of flagged.runs)
    for (const e of [...run.base, ...Object.values(run.arms).flatMap((a) => a.evaluation)])
      (e as Record<string, unknown>).reused = true;
  const again = await pipelineReport(store, flagged);
  assert.equal(again.reused, true);
  assert.equal(again.json, out.json);

  const both = structuredClone(given);
  both.runs[0].empty = { rl: { records: 6 } };
  await assert.rejects(pipelineReport(store, both), /runs\[0\]\.empty\.rl: is also in runs\[0\]\.arms/);
  const missing = structuredClone(given);
  delete missing.runs[1].empty;
  await assert.rejects(pipelineReport(store, missing), /run 1 has arms vanilla, oracle, run 0 has vanilla, rl, oracle/);
});

test('pipelineReport: a missing dataset or a wrong record count is named by its field', async () => {
  const { store, input } = await putStore();
  const broken = structuredClone(input);
  broken.runs[1].arms.rl.dataset = 'data/none.jsonl';
  await assert.rejects(pipelineReport(store, broken), /runs\[1\]\.arms\.rl\.dataset: data\/none\.jsonl does not exist/);
  const miscounted = structuredClone(input);
  miscounted.runs[0].arms.oracle.score.records = 7;
  await assert.rejects(
    pipelineReport(store, miscounted),
    /runs\[0\]\.arms\.oracle\.score\.records: 7, but .* holds 6 records/,
  );
  const noMixture = structuredClone(input);
  noMixture.mixtures = [{ arm: 'oracle-25', oracleShare: 0.25 }];
  await assert.rejects(
    pipelineReport(store, noMixture),
    /mixtures\[0\]: oracle-25 is not an arm of the runs of backbone world-seed-0; give its nll and forgetting/,
  );
  const noArm = structuredClone(input);
  delete noArm.runs[1].arms.oracle;
  await assert.rejects(pipelineReport(store, noArm), /run 1 has arms vanilla, rl, run 0 has vanilla, rl, oracle/);
});
