// The project's activities, bound to an artifact store. Workers register them (through the plugin);
// workflows import only their types.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import os from 'node:os';
import type {
  GateInput,
  GateOutput,
  JudgeInput,
  JudgeOutput,
  RewardInput,
  RewardOutput,
  RolloutInput,
  RolloutOutput,
  UpdateInput,
  UpdateOutput,
  ValidateRewriterInput,
  ValidateRewriterOutput,
  ForgettingInputInput,
  PipelineReportInputInput,
  ImportDatasetInput,
  ImportDatasetOutput,
  PrepareWorldInputInput,
  SftInputInput,
  SftOutput,
  WorldOutput,
  DeviceInfo,
} from '../schemas';
import { prepareWorld } from './world';
import { forgettingReport, type ForgettingReportOutput } from './forgetting-report';
import { pipelineReport, type PipelineReportOutput } from './pipeline-report';
import { type ArtifactStore } from './artifact-store';
import { importDataset, type Progress } from './datasets/import-dataset';
import { toFailure } from './failures';
import { evaluateBenchmark, type BenchmarkResult, type EvaluateBenchmarkInputInput } from './device/evaluate';
import { DeviceSession } from './device/session';
import { sft } from './device/sft';
import { rewriteDataset, type RewriteDatasetInputInput, type RewriteDatasetOutput } from './device/rewrite-dataset';
import { scoreDataset, type ScoreDatasetInput, type ScoreDatasetOutput } from './device/score-dataset';
import { selfAlignDataset, type SelfAlignInputInput, type SelfAlignOutput } from './device/self-align';
import { armData, type ArmDataInput, type ArmDataOutput } from './arm-data';
import { judge, reward, rollout, update, validateRewriter } from './device/rewriter';
import {
  finishRewriterRun,
  gateRollouts,
  prepareRewriterRun,
  recordStep,
  type FinishRewriterRunInput,
  type PrepareRewriterRunInput,
  type RecordStepInput,
} from './rewriter-run';

export { ArtifactStore } from './artifact-store';
export { DeviceSession, type LoadedModel, type Policy } from './device/session';
export { stage, stageOutput, type StageContext, type StageResult, type StageSpec } from './stage';
export { dataInput, readRecords, type DataInput } from './records';
export type { BenchmarkResult, EvaluateBenchmarkInput, EvaluateBenchmarkInputInput } from './device/evaluate';
export type { ForgettingReportOutput } from './forgetting-report';
export type { PipelineReportOutput } from './pipeline-report';
export type { RewriteDatasetInput, RewriteDatasetInputInput, RewriteDatasetOutput } from './device/rewrite-dataset';
export type { ScoreDatasetInput, ScoreDatasetOutput } from './device/score-dataset';
export type { SelfAlignInput, SelfAlignInputInput, SelfAlignOutput } from './device/self-align';
export type { ArmDataInput, ArmDataOutput } from './arm-data';

/**
 * Progress reporting for an activity. Besides the heartbeats the work sends, the last details are
 * repeated every few seconds, so heartbeats keep arriving while a long device program runs (it runs
 * off this event loop) and a cancellation is noticed.
 */
function temporalProgress(everyMs = 5000): Progress & { stop(): void } {
  const ctx = Context.current();
  let last: unknown = undefined;
  const timer = setInterval(() => ctx.heartbeat(last), everyMs);
  return {
    heartbeat: (details) => {
      last = details;
      ctx.heartbeat(details);
    },
    checkCancelled: () => {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('activity cancelled');
    },
    stop: () => clearInterval(timer),
  };
}

async function adapt<T>(progress: { stop(): void }, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toFailure(err);
  } finally {
    progress.stop();
  }
}

/** Activities that need no device: they run on the CPU worker beside the workflows. */
export function createCpuActivities(opts: { store: ArtifactStore }) {
  const { store } = opts;
  return {
    async prepareWorld(input: PrepareWorldInputInput): Promise<WorldOutput> {
      const progress = temporalProgress();
      return adapt(progress, () => prepareWorld(store, input, progress));
    },
    async forgettingReport(input: ForgettingInputInput): Promise<ForgettingReportOutput> {
      const progress = temporalProgress();
      return adapt(progress, () => forgettingReport(store, input));
    },
    async pipelineReport(input: PipelineReportInputInput): Promise<PipelineReportOutput> {
      const progress = temporalProgress();
      return adapt(progress, () => pipelineReport(store, input));
    },
    async armData(input: ArmDataInput): Promise<ArmDataOutput> {
      const progress = temporalProgress();
      return adapt(progress, () => armData(store, input));
    },
    async importDataset(input: ImportDatasetInput): Promise<ImportDatasetOutput> {
      const progress = temporalProgress();
      progress.heartbeat({ stage: 'start' });
      return adapt(progress, () => importDataset(store, input, progress));
    },
    async prepareRewriterRun(input: PrepareRewriterRunInput) {
      const progress = temporalProgress();
      return adapt(progress, () => prepareRewriterRun(store, input));
    },
    async gate(input: GateInput): Promise<GateOutput> {
      const progress = temporalProgress();
      return adapt(progress, () => gateRollouts(store, input));
    },
    async recordStep(input: RecordStepInput) {
      const progress = temporalProgress();
      return adapt(progress, () => recordStep(store, input));
    },
    async finishRewriterRun(input: FinishRewriterRunInput) {
      const progress = temporalProgress();
      return adapt(progress, () => finishRewriterRun(store, input));
    },
  };
}

export type { DeviceInfo };

/** Activities that run on a device-pinned worker, one at a time per device; `session` keeps loaded programs. */
export function createDeviceActivities(opts: {
  store: ArtifactStore;
  device: string;
  session?: DeviceSession;
  /** How often the last progress is repeated as a heartbeat while device work runs. */
  heartbeatEveryMs?: number;
}) {
  const { store } = opts;
  const session = opts.session ?? new DeviceSession(opts.device);
  return {
    async sft(input: SftInputInput): Promise<SftOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      progress.heartbeat({ stage: 'start' });
      return adapt(progress, () => sft(store, session, input, progress));
    },
    async scoreDataset(input: ScoreDatasetInput): Promise<ScoreDatasetOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => scoreDataset(store, session, input, progress));
    },
    async rewriteDataset(input: RewriteDatasetInputInput): Promise<RewriteDatasetOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => rewriteDataset(store, session, input, progress));
    },
    async selfAlignDataset(input: SelfAlignInputInput): Promise<SelfAlignOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => selfAlignDataset(store, session, input, progress));
    },
    async rollout(input: RolloutInput): Promise<RolloutOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => rollout(store, session, input, progress));
    },
    async judge(input: JudgeInput): Promise<JudgeOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => judge(store, session, input, progress));
    },
    async reward(input: RewardInput): Promise<RewardOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => reward(store, session, input, progress));
    },
    async update(input: UpdateInput): Promise<UpdateOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => update(store, session, input, progress));
    },
    async validateRewriter(input: ValidateRewriterInput): Promise<ValidateRewriterOutput> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      return adapt(progress, () => validateRewriter(store, session, input, progress));
    },
    async evaluateBenchmark(input: EvaluateBenchmarkInputInput): Promise<BenchmarkResult> {
      const progress = temporalProgress(opts.heartbeatEveryMs);
      progress.heartbeat({ stage: 'start' });
      return adapt(progress, () => evaluateBenchmark(store, session, input, progress));
    },

    /** Which worker and device serve this task queue: a health check, and the first hop of routing. */
    async deviceInfo(): Promise<DeviceInfo> {
      return {
        device: opts.device,
        host: os.hostname(),
        pid: process.pid,
        cpus: os.availableParallelism(),
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      };
    },
  };
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type DeviceActivities = ReturnType<typeof createDeviceActivities>;
