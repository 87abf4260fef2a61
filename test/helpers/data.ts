import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Progress } from '../../activities/datasets/import-dataset';

export const noProgress: Progress = { heartbeat() {}, checkCancelled() {} };

export function mathRecord(i: number) {
  return { problem: `What is ${i} + ${i + 1}?`, solution: `${i} + ${i + 1} = ${2 * i + 1}. \\boxed{${2 * i + 1}}` };
}

/** Writes `text` to `rel` inside `root` and returns the artifact reference. */
export async function put(root: string, rel: string, text: string | Uint8Array): Promise<string> {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), text);
  return `artifact://${rel}`;
}

export const jsonl = (rows: unknown[]) =>
  rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
