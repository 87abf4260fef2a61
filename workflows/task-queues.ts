// Task queues (pure, so workflows can route activities): workflows and CPU activities on the main
// queue; device activities on their device's queue, served by a device-pinned worker.
export const TASK_QUEUE = 'rewrite-rl';

/** 'cpu' -> rewrite-rl-device-cpu; 'cuda:1' -> rewrite-rl-device-cuda-1. */
export function deviceTaskQueue(device: string): string {
  if (device === 'cpu') return `${TASK_QUEUE}-device-cpu`;
  const m = /^cuda:(\d{1,2})$/.exec(device);
  if (!m) throw new Error(`unknown device "${device}": use cpu or cuda:N`);
  return `${TASK_QUEUE}-device-cuda-${m[1]}`;
}
