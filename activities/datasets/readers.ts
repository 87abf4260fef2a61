// Streams the records of a dataset file, one at a time, with the line (JSONL, JSON) or row (Parquet)
// each one starts on, so a bad record can be named. Nothing reads a whole file into memory: a line or
// an element longer than the record limit is dropped while it streams (only its length is counted),
// and every byte must be valid UTF-8 (a bad byte is an encoding error naming the line, never a silent
// U+FFFD).
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { InputError } from '../errors';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

export type SourceFormat = 'jsonl' | 'json' | 'parquet';

/** The largest record (one JSONL line, one JSON array element) read; longer ones are rejected unread. */
export const MAX_RECORD_BYTES = 8 * 1024 * 1024;

/** The largest Parquet row group read at once (a row group is decoded whole). */
export const MAX_ROW_GROUP_BYTES = 256 * 1024 * 1024;

/** Why the bytes of a record could not become a value: `encoding`, `maxBytes` or `json`. */
export interface ReadProblem {
  rule: 'encoding' | 'maxBytes' | 'maxDepth' | 'json';
  message: string;
  /** The field (Parquet column) at fault; the whole record when absent. */
  field?: string;
}

/** A parsed record, or the reason its bytes could not be read or parsed. */
export type SourceItem = { line: number; value: unknown } | { line: number; problem: ReadProblem };

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
  return readParquet(path, label);
}

/**
 * The byte offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and code points
 * past U+10FFFF included), or -1 when all of it is valid.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const x = b[i];
    if (x < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (x >= 0xc2 && x <= 0xdf) need = 1;
    else if (x >= 0xe0 && x <= 0xef) {
      need = 2;
      if (x === 0xe0) lo = 0xa0; // overlong
      if (x === 0xed) hi = 0x9f; // surrogates
    } else if (x >= 0xf0 && x <= 0xf4) {
      need = 3;
      if (x === 0xf0) lo = 0x90; // overlong
      if (x === 0xf4) hi = 0x8f; // past U+10FFFF
    } else return i;
    if (i + need >= n) return i; // truncated sequence
    const y = b[i + 1];
    if (y < lo || y > hi) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

const utf8 = new TextDecoder('utf-8');

/** Strict UTF-8 decoding of one record's bytes: the text, or an encoding problem naming the byte. */
export function decodeUtf8(bytes: Uint8Array, what = 'the line'): string | ReadProblem {
  if (isUtf8(bytes)) return utf8.decode(bytes);
  const at = firstInvalidUtf8(bytes);
  const shown = Array.from(bytes.subarray(at, at + 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return {
    rule: 'encoding',
    message: `encoding error: ${what} is not valid UTF-8 (byte ${at + 1}: ${shown}); save the file as UTF-8`,
  };
}

function tooLong(what: string, bytes: number, max: number): ReadProblem {
  const f = (x: number) => x.toLocaleString('en-US');
  return {
    rule: 'maxBytes',
    message: `${what} has ${f(bytes)} bytes; a record may have at most ${f(max)} (skipped unread)`,
  };
}

/** One line of a text file: its text, or why it was not read (too long, not UTF-8). */
export type LineItem = { line: number; text: string } | { line: number; problem: ReadProblem };

/**
 * The lines of a file, streamed with bounded memory: split on LF (a CR before it is dropped, a UTF-8 BOM
 * at the start too), each decoded as strict UTF-8. A line longer than `maxLineBytes` is not kept: its
 * bytes are counted and skipped as they stream, and it comes out as a `maxBytes` problem. A UTF-16
 * file is an encoding problem on line 1. Blank lines are yielded too (as '').
 */
export async function* readLines(
  path: string,
  opts: { maxLineBytes?: number; highWaterMark?: number } = {},
): AsyncGenerator<LineItem> {
  const max = opts.maxLineBytes ?? MAX_RECORD_BYTES;
  let parts: Buffer[] = [];
  let kept = 0; // bytes held in parts
  let length = 0; // bytes of the current line, kept or not
  let line = 1;
  let first = true;
  const finish = (): LineItem => {
    const n = line;
    const total = length;
    if (total > max) {
      parts = [];
      kept = 0;
      length = 0;
      return { line: n, problem: tooLong('the line', total, max) };
    }
    let bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, kept);
    parts = [];
    kept = 0;
    length = 0;
    if (bytes.length && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    const text = decodeUtf8(bytes);
    return typeof text === 'string' ? { line: n, text } : { line: n, problem: text };
  };
  for await (const chunk of createReadStream(path, { highWaterMark: opts.highWaterMark ?? 1 << 16 })) {
    let buf = chunk as Buffer;
    if (first) {
      first = false;
      if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) {
        yield {
          line: 1,
          problem: {
            rule: 'encoding',
            message: 'encoding error: the file is UTF-16 (it starts with a UTF-16 BOM); save it as UTF-8',
          },
        };
        return;
      }
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    let start = 0;
    while (start <= buf.length) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl < 0 ? buf.length : nl;
      const piece = end - start;
      if (length + piece <= max) {
        if (piece > 0) {
          parts.push(buf.subarray(start, end));
          kept += piece;
        }
      } else if (kept > 0) {
        parts = []; // over the limit: what was kept goes, only the count stays
        kept = 0;
      }
      length += piece;
      if (nl < 0) break;
      yield finish();
      line++;
      start = nl + 1;
    }
  }
  if (length > 0 || kept > 0) yield finish();
}

/** The deepest nesting of arrays and objects a record may have (deeper ones would overflow the stack later). */
export const MAX_RECORD_DEPTH = 64;

/** True when `value` nests arrays and objects deeper than `max` (walked without recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v))
      if (x !== null && typeof x === 'object') stack.push([x, d + 1]);
  }
  return false;
}

function parseRecord(text: string): { value: unknown } | { problem: ReadProblem } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: { rule: 'json', message: `not valid JSON: ${(err as Error).message}` } };
  }
  if (nestedDeeperThan(value, MAX_RECORD_DEPTH))
    return {
      problem: { rule: 'maxDepth', message: `the record nests arrays or objects more than ${MAX_RECORD_DEPTH} deep` },
    };
  return { value };
}

async function* readJsonl(path: string): AsyncGenerator<SourceItem> {
  for await (const item of readLines(path)) {
    if ('problem' in item) {
      yield item;
      continue;
    }
    if (item.text.trim() === '') continue;
    yield { line: item.line, ...parseRecord(item.text) };
  }
}

const shownByte = (c: number) => (c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16)}`);

/**
 * A JSON array, streamed: a small scanner over the bytes finds where each top-level element starts and
 * ends (tracking strings and escapes; JSON's structural characters are ASCII, and no byte of a multi-byte
 * UTF-8 character is), and each element is decoded and parsed on its own.
 */
async function* readJsonArray(path: string, label: string): AsyncGenerator<SourceItem> {
  const max = MAX_RECORD_BYTES;
  let line = 1;
  type State = 'before' | 'element-or-end' | 'element' | 'done';
  let state = 'before' as State;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = [];
  let kept = 0;
  let length = 0;
  let startLine = 0;
  let first = true;
  const keep = (buf: Buffer, from: number, to: number) => {
    const piece = to - from;
    if (length + piece <= max) {
      if (piece > 0) parts.push(buf.subarray(from, to));
      kept += piece;
    } else if (kept > 0) {
      parts = [];
      kept = 0;
    }
    length += piece;
  };
  const element = (): SourceItem => {
    const total = length;
    const bytes = Buffer.concat(parts, kept);
    parts = [];
    kept = 0;
    length = 0;
    if (total > max) return { line: startLine, problem: tooLong('the element', total, max) };
    const text = decodeUtf8(bytes, 'the element');
    if (typeof text !== 'string') return { line: startLine, problem: text };
    return { line: startLine, ...parseRecord(text) };
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
    let buf = chunk as Buffer;
    if (first) {
      first = false;
      if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff)))
        throw new SourceFileError(
          label,
          1,
          'encoding error: the file is UTF-16 (it starts with a UTF-16 BOM); save it as UTF-8',
        );
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    let segmentStart = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) inString = false;
        } else if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if (c === 0x7d || c === 0x5d) {
          if (depth === 0) {
            // the array's closing bracket ends a scalar element
            keep(buf, segmentStart, i);
            yield element();
            state = 'done';
            continue;
          }
          depth--;
        } else if (c === 0x2c && depth === 0) {
          keep(buf, segmentStart, i);
          yield element();
          state = 'element-or-end';
        }
        if (c === 0x0a) line++;
        continue;
      }
      if (c === 0x0a) line++;
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) continue;
      if (state === 'before') {
        if (c !== 0x5b) throw new SourceFileError(label, line, `expected a JSON array, found ${shownByte(c)}`);
        state = 'element-or-end';
      } else if (state === 'element-or-end') {
        if (c === 0x5d) state = 'done';
        else {
          state = 'element';
          startLine = line;
          segmentStart = i;
          depth = 0;
          inString = false;
          escaped = false;
          i--; // rescan this byte as part of the element
        }
      } else if (state === 'done') {
        throw new SourceFileError(label, line, `unexpected ${shownByte(c)} after the end of the array`);
      }
    }
    if (state === 'element') keep(buf, segmentStart, buf.length);
  }
  if (state !== 'done') throw new SourceFileError(label, line, 'the JSON array is not closed (truncated file?)');
}

/** Where hyparquet's decoded text was not valid UTF-8 (kept as a value so the row can be named). */
class BadText {
  constructor(readonly problem: ReadProblem) {}
}

function strictText(bytes: Uint8Array | undefined): string | BadText | undefined {
  if (!bytes) return undefined;
  const text = decodeUtf8(bytes, 'the value');
  return typeof text === 'string' ? text : new BadText(text);
}

/** The first value of a row that could not be decoded, with its column path. */
function badValue(value: unknown, path: string, depth = 0): { path: string; problem: ReadProblem } | undefined {
  if (value instanceof BadText) return { path, problem: value.problem };
  if (depth > 64 || value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof Date)
    return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = badValue(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Parquet, one row group at a time; the "line" is the 1-based row number. */
async function* readParquet(path: string, label: string): AsyncGenerator<SourceItem> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file).catch((e: Error) => {
    throw new SourceFileError(label, 1, `not a readable Parquet file (${e.message})`);
  });
  const parsers = {
    stringFromBytes: strictText,
    jsonFromBytes: (bytes: Uint8Array | undefined) => {
      const text = strictText(bytes);
      if (typeof text !== 'string') return text;
      const parsed = parseRecord(text);
      return 'value' in parsed ? parsed.value : new BadText(parsed.problem);
    },
  };
  let rowStart = 0;
  for (const [g, group] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    if (Number(group.total_byte_size) > MAX_ROW_GROUP_BYTES)
      throw new SourceFileError(
        label,
        rowStart + 1,
        `row group ${g} holds ${Number(group.total_byte_size).toLocaleString('en-US')} bytes; at most ${MAX_ROW_GROUP_BYTES.toLocaleString('en-US')} are read at once (write the file with smaller row groups)`,
      );
    const rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, parsers: parsers as never }).catch(
      (e: Error) => {
        throw new SourceFileError(label, rowStart + 1, `row group ${g} cannot be read (${e.message})`);
      },
    );
    for (let i = 0; i < rows.length; i++) {
      const bad = badValue(rows[i], '$');
      if (bad) yield { line: rowStart + i + 1, problem: { ...bad.problem, field: bad.path.replace(/^\$\.?/, '') } };
      else yield { line: rowStart + i + 1, value: rows[i] };
    }
    rowStart = rowEnd;
  }
}
