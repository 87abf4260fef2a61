// The project's activities, bound to an artifact store. Workers register them (through the plugin);
// workflows import only their types.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import os from 'node:os';
import type { ImportDatasetInput, ImportDatasetOutput } from '../schemas';
import { type ArtifactStore } from './artifact-store';
import { importDataset, type Progress } from './datasets/import-dataset';
import { toFailure } from './failures';

export { ArtifactStore } from './artifact-store';

function temporalProgress(): Progress {
  const ctx = Context.current();
  return {
    heartbeat: (details) => ctx.heartbeat(details),
    checkCancelled: () => {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('activity cancelled');
    },
  };
}

async function adapt<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toFailure(err);
  }
}

/** Activities that need no device: they run on the CPU worker beside the workflows. */
export function createCpuActivities(opts: { store: ArtifactStore }) {
  const { store } = opts;
  return {
    async importDataset(input: ImportDatasetInput): Promise<ImportDatasetOutput> {
      const progress = temporalProgress();
      progress.heartbeat({ stage: 'start' });
      return adapt(() => importDataset(store, input, progress));
    },
  };
}

export interface DeviceInfo {
  device: string;
  host: string;
  pid: number;
  cpus: number;
  memoryGiB: number;
}

/** Activities that run on a device-pinned worker, one at a time per device. */
export function createDeviceActivities(opts: { store: ArtifactStore; device: string }) {
  return {
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
