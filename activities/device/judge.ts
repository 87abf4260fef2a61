// The gate's judge as device work (training/judge.ts): pi_0, adapter off, asked YES/NO about each
// candidate, for the device activities that gate their own candidates (validation,
// Generate-Verify-Fallback, self-alignment): the verdicts of a list of candidates when their gate
// config turns the judge on. trainRewriter's judge stage is `judge` in ./rewriter.ts.
import type { ScoreProgram } from '../../engine/programs';
import type { TextTokenizer } from '../../engine/tokenizer';
import { judgeOn, type JudgeVerdict } from '../../method/gate';
import type { GateConfigInput, ModelRef } from '../../schemas';
import { judgeCandidates, type JudgeItem } from '../../training/judge';
import type { ArtifactStore } from '../artifact-store';
import type { Progress } from '../datasets/import-dataset';
import type { DeviceSession } from './session';

export const JUDGE_BATCH = 32;

/** A judgment as stored: the rollout it is of and the judge's verdict. */
export interface StoredJudgment extends JudgeVerdict {
  recordId: string;
  sample: number;
}

/** The judge's verdicts on `items` by `scorer` (adapter off), or undefined when `gate` does not turn it on. */
export async function judgeWith(
  scorer: ScoreProgram,
  tok: TextTokenizer,
  gate: GateConfigInput | undefined,
  items: JudgeItem[],
  progress?: Progress,
  what = 'judge',
): Promise<JudgeVerdict[] | undefined> {
  if (!judgeOn(gate)) return undefined;
  return judgeCandidates(scorer, tok, items, { prompt: gate?.judgePrompt, batchSize: JUDGE_BATCH }, (done, of) =>
    progress?.heartbeat({ stage: what, done, of }),
  );
}

/** The judge's verdicts on `items` by the frozen backbone of `model` (its adapter, if any, is not used). */
export async function judgeByBackbone(
  store: ArtifactStore,
  session: DeviceSession,
  model: ModelRef,
  gate: GateConfigInput | undefined,
  items: JudgeItem[],
  progress?: Progress,
): Promise<JudgeVerdict[] | undefined> {
  if (!judgeOn(gate)) return undefined;
  const { loaded, program } = await session.scorer(store, { uri: model.uri });
  return judgeWith(program, loaded.model.tokenizer!, gate, items, progress);
}
