// The device names a user writes: 'cpu' or 'cuda:N'. One parser for the schemas' device field, the
// task-queue names workflows route to, the worker that pins itself to a device and the engine's
// execution providers, so a name one of them accepts is never refused by another.
export type Device = { kind: 'cpu' } | { kind: 'cuda'; id: number };

/** As common.schema.json's device pattern: N is one or two digits. */
const CUDA = /^cuda:([0-9]{1,2})$/;

export function parseDevice(text: string): Device {
  if (text === 'cpu') return { kind: 'cpu' };
  const m = CUDA.exec(text);
  if (m) return { kind: 'cuda', id: Number(m[1]) };
  throw new Error(`unknown device "${text}": expected 'cpu' or 'cuda:N' (N of one or two digits)`);
}
