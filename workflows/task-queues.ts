// Task queues (pure, so workflows can route activities): workflows and CPU activities on the main
// queue; device activities on their device's queue, served by a device-pinned worker.
import { parseDevice } from '../schemas/devices';

export const TASK_QUEUE = 'rewrite-rl';

/** 'cpu' -> rewrite-rl-device-cpu; 'cuda:1' -> rewrite-rl-device-cuda-1. */
export function deviceTaskQueue(device: string): string {
  const d = parseDevice(device);
  return d.kind === 'cpu' ? `${TASK_QUEUE}-device-cpu` : `${TASK_QUEUE}-device-cuda-${d.id}`;
}
