// Turns one source record into a normalized DatasetRecord {id, question, answer[, system]} using the
// field mapping, or says precisely what is wrong with it (field and rule).
import { schemas, type DatasetRecord, type ImportDatasetInput } from '../../schemas';
import { sha256 } from '../artifact-store';

export interface RecordProblem {
  field: string;
  rule: string;
  message: string;
}

export type Normalized = { ok: true; record: DatasetRecord } | { ok: false; problem: RecordProblem };

type FieldMap = ImportDatasetInput['map'];

function get(value: unknown, path: string): unknown {
  let cur = value;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const bad = (field: string, rule: string, message: string): Normalized => ({
  ok: false,
  problem: { field, rule, message },
});

function text(value: unknown, field: string): string | Normalized {
  if (value === undefined || value === null) return bad(field, 'required', `missing field "${field}"`);
  if (typeof value !== 'string') return bad(field, 'type', `"${field}" must be a string, got ${typeOf(value)}`);
  if (value.trim() === '') return bad(field, 'minLength', `"${field}" is empty`);
  return value;
}

function typeOf(value: unknown): string {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
}

/** The id of a record: the mapped id field, else a hash of its content (stable under reordering). */
function idOf(value: unknown, map: FieldMap, content: string): string | Normalized {
  if (!map.id) return sha256(content).slice(0, 16);
  const raw = get(value, map.id);
  if (raw === undefined || raw === null) return bad(map.id, 'required', `missing id field "${map.id}"`);
  if (typeof raw === 'number' || typeof raw === 'bigint') return String(raw);
  if (typeof raw !== 'string' || raw === '')
    return bad(map.id, 'type', `id "${map.id}" must be a non-empty string or integer`);
  return raw;
}

function fromChat(value: unknown, map: FieldMap & { messages: string }): Normalized {
  const messages = get(value, map.messages);
  const checked = schemas.chatRecord.check({ messages });
  if (!checked.ok) {
    const issue = checked.issues[0];
    return bad(map.messages + issue.path.replace(/^\$\.messages/, ''), issue.rule, issue.message);
  }
  const turns = checked.value.messages;
  const system = turns[0].role === 'system' ? turns[0].content : undefined;
  const rest = system === undefined ? turns : turns.slice(1);
  if (rest.length !== 2 || rest[0].role !== 'user' || rest[1].role !== 'assistant') {
    return bad(map.messages, 'single-turn', 'expected [system,] user, assistant: one question and its answer');
  }
  const question = text(rest[0].content, `${map.messages}[${turns.length - 2}].content`);
  if (typeof question !== 'string') return question;
  const answer = text(rest[1].content, `${map.messages}[${turns.length - 1}].content`);
  if (typeof answer !== 'string') return answer;
  return finish(value, map, question, answer, system);
}

function finish(value: unknown, map: FieldMap, question: string, answer: string, system?: string): Normalized {
  const id = idOf(value, map, `${system ?? ''}\0${question}\0${answer}`);
  if (typeof id !== 'string') return id;
  const record: DatasetRecord = system === undefined ? { id, question, answer } : { id, question, answer, system };
  const checked = schemas.datasetRecord.check(record);
  if (!checked.ok) {
    const issue = checked.issues[0];
    const field = issue.path.replace(/^\$\./, '');
    const source = field === 'question' ? map.question : field === 'answer' ? map.answer : field;
    return bad(source, issue.rule, `"${source}" ${issue.message}`);
  }
  return { ok: true, record };
}

export function normalizeRecord(value: unknown, map: FieldMap): Normalized {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return bad('$', 'type', `a record must be an object, got ${typeOf(value)}`);
  }
  if (map.messages) return fromChat(value, { ...map, messages: map.messages });
  const question = text(get(value, map.question), map.question);
  if (typeof question !== 'string') return question;
  const answer = text(get(value, map.answer), map.answer);
  if (typeof answer !== 'string') return answer;
  return finish(value, map, question, answer);
}

/** The key that decides a record's split: uniform in [0, 1), from the seed and the record's id only. */
export function splitKey(seed: number, id: string): number {
  const h = sha256(`${seed}\0${id}`);
  return parseInt(h.slice(0, 13), 16) / 2 ** 52;
}
