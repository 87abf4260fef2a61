// Devices and their task queues. Only the CPU path is tested here: no machine of this project has a GPU,
// and onnxruntime-node's CUDA provider is not bundled in its npm package (its install script downloads it).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Device } from '../schemas/devices';
import { deviceTaskQueue as queueOf } from '../workflows/task-queues';

export { type Device, parseDevice } from '../schemas/devices';

export function deviceName(d: Device): string {
  return d.kind === 'cpu' ? 'cpu' : `cuda:${d.id}`;
}

/** The task queue device activities for this device are routed to. */
export function deviceTaskQueue(d: Device): string {
  return queueOf(deviceName(d));
}

/** Throws a clear error when the device cannot be used by onnxruntime-node on this machine. */
export function assertDeviceUsable(d: Device): void {
  if (d.kind === 'cpu') return;
  const require = createRequire(import.meta.url);
  const binding = dirname(require.resolve('onnxruntime-node'));
  const lib = join(binding, '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  if (!existsSync(lib)) {
    throw new Error(
      `device ${deviceName(d)}: onnxruntime-node's CUDA execution provider is not installed (${lib} is missing). ` +
        `Install it with onnxruntime-node's install script on a machine that can download it ` +
        `(\`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node\`), or use --device cpu.`,
    );
  }
}
