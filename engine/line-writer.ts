import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/** Appends lines to a file, waiting when the stream's buffer is full. */
export class LineWriter {
  private readonly stream: WriteStream;
  count = 0;

  constructor(path: string) {
    this.stream = createWriteStream(path, { encoding: 'utf8' });
  }

  async write(line: string): Promise<void> {
    this.count++;
    if (!this.stream.write(line + '\n')) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

/** A JSONL file of `rows`, one JSON value per line. */
export async function writeJsonl(path: string, rows: unknown[]): Promise<void> {
  const w = new LineWriter(path);
  for (const r of rows) await w.write(JSON.stringify(r));
  await w.close();
}
