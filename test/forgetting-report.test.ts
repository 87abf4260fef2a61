// forgettingReport on hand-made predictions whose forgetting is known exactly: the forgetting tables,
// the dose-response table and plot against each arm's NLL, the reduction against the reference arm,
// idempotency, and the checks on nll and reference.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { forgettingReport } from '../activities/forgetting-report';
import { forgettingDifference, type BenchmarkScores } from '../method/forgetting';
import { schemas } from '../schemas';
import { tempDir } from './helpers/temporal';

const ITEMS = 10;
type Wrong = { strict: number; lenient: number };
/** How many of the 10 items of each benchmark a model gets wrong: general g1, g2 and downstream d1. */
type Model = Record<'g1' | 'g2' | 'd1', Wrong>;

const MODELS: Record<string, Model> = {
  base: { g1: { strict: 0, lenient: 0 }, g2: { strict: 0, lenient: 0 }, d1: { strict: 10, lenient: 10 } },
  // forgetting strict 40 and 60 (mean 50), lenient 20 and 40 (mean 30); downstream 70 / 80
  foreign: { g1: { strict: 4, lenient: 2 }, g2: { strict: 6, lenient: 4 }, d1: { strict: 3, lenient: 2 } },
  // forgetting strict 10 and 10 (mean 10), lenient 0; downstream 60 / 60
  oracle: { g1: { strict: 1, lenient: 0 }, g2: { strict: 1, lenient: 0 }, d1: { strict: 4, lenient: 4 } },
};

async function putEvaluation(store: ArtifactStore, who: string) {
  const out = [];
  for (const [benchmark, wrong] of Object.entries(MODELS[who])) {
    const ref = `evaluations/${who}/${benchmark}`;
    await mkdir(store.resolve(ref), { recursive: true });
    const rows = Array.from({ length: ITEMS }, (_, i) =>
      // the wrong items are the first ones, strict wrong whenever lenient is
      JSON.stringify({
        id: `${benchmark}-${i}`,
        strict: { correct: i >= wrong.strict },
        lenient: { correct: i >= wrong.lenient },
      }),
    );
    await writeFile(join(store.resolve(ref), 'predictions.jsonl'), rows.join('\n') + '\n');
    out.push({
      benchmark,
      role: benchmark === 'd1' ? ('downstream' as const) : ('general' as const),
      uri: `artifact://${ref}`,
    });
  }
  return out;
}

function scoresOf(who: string, kind: 'strict' | 'lenient'): BenchmarkScores {
  return new Map(
    (['g1', 'g2'] as const).map((b) => [
      b,
      new Map(Array.from({ length: ITEMS }, (_, i) => [`${b}-${i}`, Number(i >= MODELS[who][b][kind])])),
    ]),
  );
}

async function setup() {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const base = await putEvaluation(store, 'base');
  const arms = { foreign: await putEvaluation(store, 'foreign'), oracle: await putEvaluation(store, 'oracle') };
  return { root, store, base, arms };
}

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} is not ${b}`);

test('with NLLs: the dose-response table, its plot, and the reduction against foreign, in JSON and Markdown', async () => {
  const { store, base, arms } = await setup();
  const nll = { foreign: 1.5, oracle: 0.5 };
  const r = await forgettingReport(store, { name: 'toy', base, arms, nll, resamples: 500 });
  schemas.forgettingReportOutput.parse(r);

  // the dose-response: arms by increasing NLL, their mean forgetting and downstream accuracy
  const dr = r.doseResponse!;
  assert.deepEqual(
    dr.rows.map((x) => [x.arm, x.nll]),
    [
      ['oracle', 0.5],
      ['foreign', 1.5],
    ],
  );
  close(dr.rows[0].forgetting.strict.value, 10);
  assert.deepEqual(dr.rows[0].forgetting.lenient, { value: 0, low: 0, high: 0 });
  close(dr.rows[1].forgetting.strict.value, 50);
  close(dr.rows[1].forgetting.lenient.value, 30);
  for (const row of dr.rows)
    for (const i of [row.forgetting.strict, row.forgetting.lenient]) assert.ok(i.low <= i.value && i.value <= i.high);
  assert.ok(dr.rows[1].forgetting.strict.low > 0, 'foreign forgets, and the interval says so');
  assert.deepEqual(dr.rows[1].downstream, { d1: { strict: 70, lenient: 80 } });
  assert.deepEqual(dr.rows[0].downstream, { d1: { strict: 60, lenient: 60 } });
  close(dr.fit!.strict.b, 40);
  close(dr.fit!.lenient.b, 30);
  close(dr.fit!.lenient.a, -15);

  // the plot: lenient and strict points of each arm, foreign right of and above oracle
  assert.equal(dr.svg, `${r.uri}/dose-response.svg`);
  const svg = readFileSync(store.resolve(dr.svg), 'utf8');
  assert.match(svg, /^<svg xmlns/);
  assert.ok(!/NaN|Infinity/.test(svg));
  const point = (label: string) => {
    const m = new RegExp(
      `aria-label="${label}" role="graphics-symbol" aria-roledescription="point" transform="translate\\(([\\d.]+),([\\d.]+)\\)"`,
    ).exec(svg);
    assert.ok(m, `a point titled ${label}`);
    return { x: Number(m[1]), y: Number(m[2]) };
  };
  const fl = point('foreign \\(lenient extraction\\)');
  const ol = point('oracle \\(lenient extraction\\)');
  const fs = point('foreign \\(strict extraction\\)');
  const os = point('oracle \\(strict extraction\\)');
  assert.ok(fl.x > ol.x && fl.y < ol.y, 'foreign: more NLL, more forgetting (smaller y is higher)');
  assert.equal(fl.x, fs.x);
  assert.ok(fs.y < fl.y && os.y < ol.y, 'strict forgetting above lenient');
  assert.match(svg, />strict extraction</);
  assert.match(svg, />lenient extraction</);
  assert.equal(svg.split('aria-roledescription="line mark"').length - 1, 2, 'a fitted line per series');

  // the reduction against foreign, paired over items
  assert.equal(r.reduction!.reference, 'foreign');
  assert.deepEqual(
    r.reduction!.rows.map((x) => x.arm),
    ['oracle'],
  );
  const red = r.reduction!.rows[0];
  close(red.strict.value, 40);
  close(red.lenient.value, 30);
  assert.deepEqual(
    red.strict,
    forgettingDifference(scoresOf('foreign', 'strict'), scoresOf('oracle', 'strict'), ['g1', 'g2'], {
      resamples: 500,
      seed: 0,
    }),
  );
  assert.deepEqual(
    red.lenient,
    forgettingDifference(scoresOf('foreign', 'lenient'), scoresOf('oracle', 'lenient'), ['g1', 'g2'], {
      resamples: 500,
      seed: 0,
    }),
  );
  assert.ok(red.strict.low > 0 && red.lenient.low > 0, 'oracle forgets significantly less');
  close(red.relative.strict!, 0.8);
  close(red.relative.lenient!, 1);

  // the same in the folder's JSON and Markdown
  const json = JSON.parse(readFileSync(store.resolve(`${r.uri}/forgetting.json`), 'utf8'));
  assert.deepEqual(json.doseResponse, JSON.parse(JSON.stringify(dr)));
  assert.deepEqual(json.reduction, JSON.parse(JSON.stringify(r.reduction)));
  const md = r.markdown;
  assert.equal(md, readFileSync(store.resolve(`${r.uri}/forgetting.md`), 'utf8'));
  assert.match(md, /### Dose-response: forgetting against the backbone NLL of the SFT data/);
  assert.match(md, /\| arm \| backbone NLL \| forgetting strict \| forgetting lenient \| d1 strict \| d1 lenient \|/);
  const doseRows = md.split('\n').filter((l) => /^\| (oracle|foreign) \| \d\.\d{4} \|/.test(l));
  assert.equal(doseRows.length, 2);
  assert.match(
    doseRows[0],
    /^\| oracle \| 0\.5000 \| 10\.0 \[[\d.]+, [\d.]+\] \| 0\.0 \[0\.0, 0\.0\] \| 60\.0 \| 60\.0 \|$/,
  );
  assert.match(
    doseRows[1],
    /^\| foreign \| 1\.5000 \| 50\.0 \[[\d.]+, [\d.]+\] \| 30\.0 \[[\d.]+, [\d.]+\] \| 70\.0 \| 80\.0 \|$/,
  );
  assert.match(md, /slope: 40\.0 points per nat \(strict\), 30\.0 \(lenient\)/);
  assert.match(md, /### Forgetting reduction vs foreign/);
  assert.match(md, /\| oracle \| 40\.0 \[[\d.]+, [\d.]+\] \| 30\.0 \[[\d.]+, [\d.]+\] \| 80\.0% \| 100\.0% \|/);

  // idempotent: the same input returns the same folder, untouched
  const files = readdirSync(store.resolve(r.uri)).sort();
  assert.deepEqual(files, ['dose-response.svg', 'forgetting.json', 'forgetting.md', 'manifest.json']);
  const again = await forgettingReport(store, { name: 'toy', base, arms, nll, resamples: 500 });
  assert.deepEqual(again, r);
  assert.equal(readFileSync(store.resolve(dr.svg), 'utf8'), svg);
});

test('without NLLs: no dose-response and no plot; the reference can be named', async () => {
  const { store, base, arms } = await setup();
  const r = await forgettingReport(store, { base, arms, reference: 'oracle', resamples: 500 });
  schemas.forgettingReportOutput.parse(r);
  assert.equal(r.doseResponse, undefined);
  assert.ok(!existsSync(store.resolve(`${r.uri}/dose-response.svg`)));
  assert.doesNotMatch(r.markdown, /Dose-response/);
  assert.equal(r.reduction!.reference, 'oracle');
  assert.deepEqual(
    r.reduction!.rows.map((x) => x.arm),
    ['foreign'],
  );
  close(r.reduction!.rows[0].strict.value, -40);
  assert.equal(r.reduction!.rows[0].relative.lenient, null, 'oracle did not forget under lenient extraction');
  assert.match(r.markdown, /### Forgetting reduction vs oracle\n/);
  assert.match(
    r.markdown,
    /\| foreign \| -40\.0 \[[-\d.]+, [-\d.]+\] \| -30\.0 \[[-\d.]+, [-\d.]+\] \| -400\.0% \| n\/a \|/,
  );

  // one arm: nothing to compare with
  const one = await forgettingReport(store, { base, arms: { foreign: arms.foreign }, nll: { foreign: 1.5 } });
  assert.equal(one.reduction, undefined);
  assert.deepEqual(
    one.doseResponse!.rows.map((x) => x.arm),
    ['foreign'],
  );
  assert.equal(one.doseResponse!.fit, null);
  assert.ok(existsSync(store.resolve(one.doseResponse!.svg)));
});

test('nll must cover exactly the arms, and the reference must be one of them', async () => {
  const { store, base, arms } = await setup();
  await assert.rejects(forgettingReport(store, { base, arms, nll: { foreign: 1 } }), /nll: no value for arm "oracle"/);
  await assert.rejects(
    forgettingReport(store, { base, arms, nll: { foreign: 1, oracle: 0.5, 'oracle-50': 0.7 } }),
    /nll\.oracle-50: not one of the arms/,
  );
  await assert.rejects(forgettingReport(store, { base, arms, nll: { foreign: -1, oracle: 0.5 } }), /minimum|>= 0/);
  await assert.rejects(
    forgettingReport(store, { base, arms, reference: 'sdft' }),
    /reference: "sdft" is not one of the arms/,
  );
});
