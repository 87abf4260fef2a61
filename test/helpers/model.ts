import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../workers/settings';
import { jsonl, put } from './data';

/** Copies the tiny random llama fixture (config, weights, tokenizer) into the store; returns its reference. */
export async function putTinyModel(root: string, rel = 'models/llama-tiny'): Promise<string> {
  const src = join(PROJECT_ROOT, 'test', 'fixtures', 'hf', 'llama-tiny');
  for (const f of [
    'config.json',
    'generation_config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]) {
    await cp(join(src, f), join(root, rel, f));
  }
  return `artifact://${rel}`;
}

/** A small benchmark file of {id, question, answer}. */
export async function putBenchmark(root: string, name: string, n: number): Promise<string> {
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `${name}-${i}`,
    question: `what is ${i} plus 1`,
    answer: String(i + 1),
  }));
  return put(root, `bench/${name}.jsonl`, jsonl(rows));
}
