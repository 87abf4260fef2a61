// Streams the records of a dataset file, one at a time, with the line (JSONL, JSON) or row (Parquet)
// each one starts on, so a bad record can be named. Nothing reads a whole file into memory.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InputError } from '../errors';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

export type SourceFormat = 'jsonl' | 'json' | 'parquet';

/** A parsed record, or the reason its text could not be parsed. */
export type SourceItem = { line: number; value: unknown } | { line: number; parseError: string };

export class SourceFileError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'SourceFileError';
  }
}

export function formatOf(file: string, given?: SourceFormat): SourceFormat {
  if (given) return given;
  const lower = file.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.parquet')) return 'parquet';
  throw new InputError(`${file}: cannot tell the format from the extension; give format: jsonl, json or parquet`);
}

export function readRecords(path: string, format: SourceFormat, label = path): AsyncGenerator<SourceItem> {
  if (format === 'jsonl') return readJsonl(path);
  if (format === 'json') return readJsonArray(path, label);
  return readParquet(path);
}

async function* readJsonl(path: string): AsyncGenerator<SourceItem> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (let text of lines) {
    line++;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch (err) {
      yield { line, parseError: (err as Error).message };
    }
  }
}

/**
 * A JSON array, streamed: a small scanner finds where each top-level element starts and ends (tracking
 * strings and escapes), and each element is parsed on its own.
 */
async function* readJsonArray(path: string, label: string): AsyncGenerator<SourceItem> {
  let line = 1;
  type State = 'before' | 'element-or-end' | 'element' | 'done';
  let state = 'before' as State;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let buf = '';
  let startLine = 0;
  let first = true;
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    let text = chunk as string;
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let segmentStart = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === '\\') escaped = true;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          if (depth === 0) {
            // the array's closing bracket ends a scalar element
            buf += text.slice(segmentStart, i);
            yield parseElement(buf, startLine);
            buf = '';
            state = 'done';
            continue;
          }
          depth--;
        } else if (c === ',' && depth === 0) {
          buf += text.slice(segmentStart, i);
          yield parseElement(buf, startLine);
          buf = '';
          state = 'element-or-end';
        }
        if (c === '\n') line++;
        continue;
      }
      if (c === '\n') line++;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
      if (state === 'before') {
        if (c !== '[') throw new SourceFileError(label, line, `expected a JSON array, found '${c}'`);
        state = 'element-or-end';
      } else if (state === 'element-or-end') {
        if (c === ']') state = 'done';
        else {
          state = 'element';
          startLine = line;
          segmentStart = i;
          depth = 0;
          inString = false;
          escaped = false;
          i--; // rescan this character as part of the element
        }
      } else if (state === 'done') {
        throw new SourceFileError(label, line, `unexpected '${c}' after the end of the array`);
      }
    }
    if (state === 'element') buf += text.slice(segmentStart);
  }
  if (state !== 'done') throw new SourceFileError(label, line, 'the JSON array is not closed (truncated file?)');
}

function parseElement(text: string, line: number): SourceItem {
  try {
    return { line, value: JSON.parse(text) };
  } catch (err) {
    return { line, parseError: (err as Error).message };
  }
}

/** Parquet, one row group at a time; the "line" is the 1-based row number. */
async function* readParquet(path: string): AsyncGenerator<SourceItem> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd });
    for (let i = 0; i < rows.length; i++) yield { line: rowStart + i + 1, value: rows[i] };
    rowStart = rowEnd;
  }
}
