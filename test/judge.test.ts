// The gate's judge on a real (tiny) model: P(YES) and P(NO) are read from the score program's
// log-probabilities of the reply's first word; a model fine-tuned to answer YES to a candidate equal to
// its reference and NO otherwise is judged so; Generate-Verify-Fallback records the judge's verdict on
// every candidate and gates on it, and so does the self-alignment builder.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ArtifactStore } from '../activities/artifact-store';
import { readJsonl } from '../activities/records';
import { rewriteDataset } from '../activities/device/rewrite-dataset';
import { DeviceSession } from '../activities/device/session';
import { selfAlignDataset } from '../activities/device/self-align';
import { sft } from '../activities/device/sft';
import { gate } from '../method/gate';
import { fill, judgeAnswers, JUDGE_PROMPT } from '../method/prompts';
import { schemas } from '../schemas';
import { judgeCandidates, judgeTokens, type JudgeItem } from '../training/judge';
import { jsonl, noProgress, put } from './helpers/data';
import { putTinyModel } from './helpers/model';
import { tempDir } from './helpers/temporal';

const session = new DeviceSession('cpu', 1);
after(() => session.close());

/** A judge prompt short enough for the tiny model, in the QA form (the reply starts on a new line). */
const SHORT = 'Problem:\n{question} | {reference} | {candidate}\n\nAnswer:\n';

/** A record of a dataset builder's output, as far as these tests read it. */
interface BuiltRow {
  question: string;
  answer: string;
  rewrite_success: boolean;
  chosen: number | null;
  provenance?: string;
  candidates: {
    text: string;
    passes: boolean;
    reasons: string[];
    judge: { pass: boolean; pYes: number; pNo: number };
  }[];
}

const items: JudgeItem[] = Array.from({ length: 8 }, (_, i) => ({
  question: `${i} + 2?`,
  reference: `\\boxed{${i + 2}}`,
  // half the candidates are the reference, half another number
  candidate: i % 2 === 0 ? `\\boxed{${i + 2}}` : `\\boxed{${i + 5}}`,
}));

test('the answer words follow the prompt: without a space after whitespace, with one after a word', () => {
  assert.deepEqual(judgeAnswers(fill(JUDGE_PROMPT, { question: 'q', reference: 'r', candidate: 'c' })), {
    yes: 'YES',
    no: 'NO',
  });
  assert.ok(JUDGE_PROMPT.endsWith('Reply YES or NO.\n\nAnswer:\n'));
  assert.deepEqual(judgeAnswers('Is it right? Reply YES or NO. Reply:'), { yes: ' YES', no: ' NO' });
  assert.equal(schemas.gateConfig.check({ checks: ['answer', 'judge'], judgePrompt: 'no candidate' }).ok, false);
  assert.equal(schemas.gateConfig.check({ checks: ['answer', 'judge'], judgePrompt: SHORT }).ok, true);
});

test("P(YES) and P(NO) are the score program's probabilities of the two words; pass iff P(YES) >= P(NO)", async () => {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  const { loaded, program } = await session.scorer(store, { uri: await putTinyModel(root) });
  const tok = loaded.model.tokenizer!;
  // batched: both words of every candidate in one run (each prompt once)
  const verdicts = await judgeCandidates(program, tok, items, { prompt: SHORT, batchSize: 3 });
  assert.equal(verdicts.length, items.length);
  for (const [i, it] of items.entries()) {
    // the reference: each word scored alone, one item per run (the plain score program)
    const t = judgeTokens(tok, it, SHORT);
    assert.deepEqual(t.yes, tok.encode('YES', { addSpecialTokens: false }));
    const p = async (target: number[]) => {
      const r = await program.score([{ prompt: t.prompt, target }]);
      return Math.exp(r.logprobs[0].reduce((s, x) => s + x, 0));
    };
    const [pYes, pNo] = [await p(t.yes), await p(t.no)];
    const v = verdicts[i];
    assert.ok(Math.abs(v.pYes! - pYes) <= 1e-5 * pYes, `item ${i}: P(YES) ${v.pYes} vs ${pYes}`);
    assert.ok(Math.abs(v.pNo! - pNo) <= 1e-5 * pNo, `item ${i}: P(NO) ${v.pNo} vs ${pNo}`);
    assert.ok(v.pYes! > 0 && v.pYes! < 1 && v.pNo! > 0 && v.pNo! < 1);
    assert.equal(v.pass, v.pYes! >= v.pNo!);
  }
});

const REF = 'so \\boxed{1}';

/**
 * The tiny model fine-tuned to answer YES iff the candidate is the reference on `items`, and by the
 * question alone on four more ("p0", "p1": YES; "f0", "f1": NO).
 */
async function tunedJudge() {
  const root = await tempDir();
  const store = new ArtifactStore(root);
  // SFT's QA prompt around "{question} | {reference} | {candidate}" is exactly the SHORT judge prompt
  const rows = [
    ...items.map((it) => ({ ...it, yes: it.candidate === it.reference })),
    // and whatever the candidate, YES to the questions "p0", "p1" and NO to "f0", "f1" (for the next test)
    ...['p0', 'p1', 'f0', 'f1'].flatMap((question) =>
      ['YES', 'NO', 'so \\boxed{1}', 'x y'].map((candidate) => ({
        question,
        reference: REF,
        candidate,
        yes: question.startsWith('p'),
      })),
    ),
  ].map((it, i) => ({
    id: `j${i}`,
    question: `${it.question} | ${it.reference} | ${it.candidate}`,
    answer: it.yes ? 'YES' : 'NO',
  }));
  const tuned = await sft(
    store,
    session,
    {
      model: { uri: await putTinyModel(root) },
      dataset: await put(root, 'data/judge.jsonl', jsonl(rows)),
      epochs: 25,
      batchSize: 8,
      learningRate: 1e-2,
      schedule: 'constant',
      checkpointEvery: 1000,
    },
    noProgress,
  );
  return { root, store, model: { uri: tuned.uri } };
}
let tuned: ReturnType<typeof tunedJudge> | undefined;

test('a model fine-tuned to answer YES iff the candidate is the reference is judged so; the gate uses the verdict', async () => {
  const { store, model } = await (tuned ??= tunedJudge());
  const { loaded, program } = await session.scorer(store, model);
  const verdicts = await judgeCandidates(program, loaded.model.tokenizer!, items, { prompt: SHORT, batchSize: 8 });
  assert.deepEqual(
    verdicts.map((v) => v.pass),
    items.map((it) => it.candidate === it.reference),
    JSON.stringify(verdicts),
  );
  // the trained answer dominates: the model is sure, both ways
  for (const v of verdicts) assert.ok(Math.max(v.pYes!, v.pNo!) > 0.5, JSON.stringify(v));
  const config = { checks: ['answer' as const, 'judge' as const], judgePrompt: SHORT };
  // every candidate has the right answer here: the judge alone decides the full pass
  const g = items.map((it, i) => gate(it.reference, it.reference, config, verdicts[i]));
  assert.deepEqual(
    g.map((v) => [v.answer, v.judge, v.pass]),
    verdicts.map((v) => [true, v.pass, v.pass]),
  );
  assert.match(g[1].reasons.join('\n'), /^judge: NO \(P\(YES\) [\d.e-]+ < P\(NO\) [\d.e-]+\)$/);
});

test('Generate-Verify-Fallback with the judge on: every candidate carries its verdict, and the gate uses it', async () => {
  const { root, store, model } = await (tuned ??= tunedJudge());
  // the tuned judge says YES to the p-questions and NO to the f-questions, whatever the candidate
  const rows = ['p0', 'f0', 'p1', 'f1'].map((question, i) => ({ id: `r${i}`, question, answer: REF }));
  const dataset = await put(root, 'data/train.jsonl', jsonl(rows));
  // an extractor that reads the same (empty) answer from every text: the answer check passes everyone,
  // so the judge alone decides
  const gateConfig = {
    extractor: { kind: 'regex' as const, pattern: '^()' },
    checks: ['answer' as const, 'judge' as const],
    judgePrompt: SHORT,
  };
  const out = await rewriteDataset(
    store,
    session,
    { model, dataset, name: 'judged', gate: gateConfig, samples: 3, temperature: 1, seed: 3, maxNewTokens: 6 },
    noProgress,
  );
  const data = await readJsonl<BuiltRow>(store.resolve(out.data), out.data);
  const { loaded, program } = await session.scorer(store, model);
  let judgedNo = 0;
  for (const [i, row] of data.entries()) {
    assert.equal(row.candidates.length, 3);
    const direct = await judgeCandidates(
      program,
      loaded.model.tokenizer!,
      row.candidates.map((c: { text: string }) => ({
        question: rows[i].question,
        reference: rows[i].answer,
        candidate: c.text,
      })),
      { prompt: SHORT, batchSize: 8 },
    );
    for (const [k, c] of row.candidates.entries()) {
      assert.equal(typeof c.judge.pYes, 'number');
      assert.equal(c.judge.pass, c.judge.pYes >= c.judge.pNo);
      assert.ok(Math.abs(c.judge.pYes - direct[k].pYes!) <= 1e-5 * direct[k].pYes!);
      assert.equal(c.passes, c.judge.pass);
      if (!c.judge.pass) {
        judgedNo++;
        assert.match(c.reasons.join('\n'), /judge: NO/);
      }
    }
    assert.equal(
      row.rewrite_success,
      row.candidates.some((c: { passes: boolean }) => c.passes),
    );
    // the judge decided as it was trained to: YES to a p-question, NO to an f-question
    assert.deepEqual(
      row.candidates.map((c: { passes: boolean }) => c.passes),
      [true, true, true].map(() => rows[i].question.startsWith('p')),
    );
    assert.equal(row.answer, row.rewrite_success ? row.candidates[row.chosen!].text : rows[i].answer);
  }
  assert.equal(judgedNo, 6);
  assert.equal(out.passRate, 0.5);
  assert.equal(out.samplePassRate, 1 - judgedNo / 12);
  // the judge's prompt is part of the gate, so of the output's key
  const again = await rewriteDataset(
    store,
    session,
    { model, dataset, name: 'judged', gate: gateConfig, samples: 3, temperature: 1, seed: 3, maxNewTokens: 6 },
    noProgress,
  );
  assert.equal(again.reused, true);
});

test("self-alignment with the judge on: the backbone's own answer is kept iff the judge says YES, with its verdict", async () => {
  const { root, store, model } = await (tuned ??= tunedJudge());
  const rows = ['p0', 'f0', 'p1', 'f1'].map((question, i) => ({ id: `s${i}`, question, answer: REF }));
  const out = await selfAlignDataset(
    store,
    session,
    {
      model,
      dataset: await put(root, 'data/self.jsonl', jsonl(rows)),
      name: 'self-judged',
      gate: { extractor: { kind: 'regex', pattern: '^()' }, checks: ['answer', 'judge'], judgePrompt: SHORT },
      maxNewTokens: 6,
    },
    noProgress,
  );
  assert.deepEqual(out.provenance, { own: 2, guided: 0, original: 2 });
  const data = await readJsonl<BuiltRow>(store.resolve(out.data), out.data);
  for (const row of data) {
    const yes = row.question.startsWith('p');
    // an f-question's own answer and its guided rewrite both get the judge's NO
    assert.equal(row.candidates.length, yes ? 1 : 2);
    for (const c of row.candidates) assert.deepEqual([c.passes, c.judge.pass], [yes, yes]);
    assert.equal(row.provenance, yes ? 'own' : 'original');
  }
});
