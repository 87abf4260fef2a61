import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { isJsonObject, jsonTypeOf, ModelFileError } from '../errors';

export interface ChatMessage {
  role: string;
  content: string;
}

/** Text after decoding, and how many trailing bytes were held back as an incomplete UTF-8 sequence. */
export interface Decoded {
  text: string;
  /** Bytes at the end that do not form a complete UTF-8 character yet (byte-level tokenizers). */
  pendingBytes: number;
}

type Json = Record<string, unknown>;

/** GPT-2's reversible byte <-> printable character map used by ByteLevel pre-tokenizers and decoders. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

function tokenContent(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as Json).content === 'string') return (t as Json).content as string;
  return undefined;
}

function usesByteLevel(json: Json): boolean {
  const d = json.decoder as Json | null | undefined;
  if (!d) return false;
  if (d.type === 'ByteLevel') return true;
  return d.type === 'Sequence' && Array.isArray(d.decoders) && d.decoders.some((x) => (x as Json).type === 'ByteLevel');
}

const TOKENIZER_MODELS = ['BPE', 'WordPiece', 'Unigram'];
const COMPONENTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'];

const bad = (file: string, msg: string): never => {
  throw new ModelFileError(`${file}: ${msg}`);
};
const shown = (v: unknown) => JSON.stringify(v)?.slice(0, 100) ?? String(v);

/**
 * Checks the structure of tokenizer.json that @huggingface/tokenizers trusts (it would otherwise fail
 * later, at encode, or silently guess a model type), naming the field at fault.
 */
export function checkTokenizerJson(json: unknown): asserts json is Json {
  const f = 'tokenizer.json';
  if (!isJsonObject(json)) bad(f, `must be a JSON object, got ${jsonTypeOf(json)}`);
  const j = json as Json;
  const model = j.model;
  if (!isJsonObject(model))
    bad(f, `model must be an object, got ${model === undefined ? 'nothing' : jsonTypeOf(model)}`);
  const m = model as Json;
  if (typeof m.type !== 'string' || !TOKENIZER_MODELS.includes(m.type))
    bad(f, `model.type ${shown(m.type)} is not supported (supported: ${TOKENIZER_MODELS.join(', ')})`);
  if (m.type === 'Unigram') {
    if (!Array.isArray(m.vocab) || m.vocab.length === 0)
      bad(f, `model.vocab must be a non-empty list of [piece, score] for Unigram, got ${jsonTypeOf(m.vocab)}`);
    (m.vocab as unknown[]).forEach((e, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number')
        bad(f, `model.vocab[${i}] must be [piece, score], got ${shown(e)}`);
    });
  } else {
    if (!isJsonObject(m.vocab) || Object.keys(m.vocab).length === 0)
      bad(f, `model.vocab must be a non-empty object {token: id}, got ${jsonTypeOf(m.vocab)}`);
    for (const [token, id] of Object.entries(m.vocab as Json))
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= 1 << 24)
        bad(f, `model.vocab[${shown(token)}] must be a token id, got ${shown(id)}`);
  }
  if (m.type === 'BPE') {
    if (m.merges !== undefined && !Array.isArray(m.merges))
      bad(f, `model.merges must be a list, got ${jsonTypeOf(m.merges)}`);
    ((m.merges as unknown[] | undefined) ?? []).forEach((e, i) => {
      const ok =
        (typeof e === 'string' && e.includes(' ')) ||
        (Array.isArray(e) && e.length === 2 && e.every((x) => typeof x === 'string'));
      if (!ok) bad(f, `model.merges[${i}] must be "a b" or ["a", "b"], got ${shown(e)}`);
    });
  }
  if (j.added_tokens !== undefined && j.added_tokens !== null) {
    if (!Array.isArray(j.added_tokens)) bad(f, `added_tokens must be a list, got ${jsonTypeOf(j.added_tokens)}`);
    (j.added_tokens as unknown[]).forEach((a, i) => {
      if (!isJsonObject(a) || typeof a.content !== 'string' || !Number.isInteger(a.id) || (a.id as number) < 0)
        bad(f, `added_tokens[${i}] must be {id, content, ...}, got ${shown(a)}`);
    });
  }
  for (const key of COMPONENTS) {
    const c = j[key];
    if (c === undefined || c === null) continue;
    if (!isJsonObject(c) || typeof c.type !== 'string')
      bad(f, `${key} must be null or an object with a type, got ${shown(c)}`);
  }
}

/** Checks tokenizer_config.json's fields that the tokenizer reads: special tokens and the chat template. */
export function checkTokenizerConfig(cfg: unknown): asserts cfg is Json {
  const f = 'tokenizer_config.json';
  if (!isJsonObject(cfg)) bad(f, `must be a JSON object, got ${jsonTypeOf(cfg)}`);
  const c = cfg as Json;
  for (const key of ['eos_token', 'bos_token', 'pad_token', 'unk_token']) {
    const t = c[key];
    if (t !== undefined && t !== null && tokenContent(t) === undefined)
      bad(f, `${key} must be a string or {content: string}, got ${shown(t)}`);
  }
  const ct = c.chat_template;
  if (ct === undefined || ct === null || typeof ct === 'string') return;
  if (!Array.isArray(ct)) bad(f, `chat_template must be a string or a list of {name, template}, got ${jsonTypeOf(ct)}`);
  (ct as unknown[]).forEach((t, i) => {
    if (!isJsonObject(t) || typeof t.name !== 'string' || typeof t.template !== 'string')
      bad(f, `chat_template[${i}] must be {name, template}, got ${shown(t)}`);
  });
}

/**
 * Parses a chat template and renders it once on a one-message conversation, so a template that does not
 * parse, or fails on the simplest input, is an error at load naming the field rather than at first use.
 * The template runs in @huggingface/jinja's interpreter: it sees only the values passed to render, never
 * JavaScript objects or Node's globals.
 */
function compileTemplate(source: string, field: string, specials: Record<string, string>): Template {
  let t: Template;
  try {
    t = new Template(source);
  } catch (e) {
    bad('tokenizer_config.json', `${field} does not parse: ${(e as Error).message}`);
  }
  try {
    t!.render({ messages: [{ role: 'user', content: 'hello' }], add_generation_prompt: true, ...specials });
  } catch (e) {
    bad('tokenizer_config.json', `${field} fails on a one-message conversation: ${(e as Error).message}`);
  }
  return t!;
}

function makeTokenizer(json: Json, config: Json): Tokenizer {
  try {
    return new Tokenizer(json, config);
  } catch (e) {
    return bad('tokenizer.json', (e as Error).message);
  }
}

/**
 * A Hugging Face tokenizer (tokenizer.json through @huggingface/tokenizers) with its
 * tokenizer_config.json: special tokens and the chat template (rendered with @huggingface/jinja).
 */
export class TextTokenizer {
  private readonly tok: Tokenizer;
  private readonly template?: Template;
  private readonly byteDecoder?: Map<string, number>;
  private readonly added = new Map<number, string>();
  readonly vocabSize: number;
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
  readonly specialTokens: Record<string, string> = {};

  constructor(
    readonly tokenizerJson: Json,
    readonly tokenizerConfig: Json = {},
  ) {
    checkTokenizerJson(tokenizerJson);
    checkTokenizerConfig(tokenizerConfig);
    this.tok = makeTokenizer(tokenizerJson, tokenizerConfig);
    for (const a of (tokenizerJson.added_tokens as Json[] | undefined) ?? [])
      if (typeof a.id === 'number' && typeof a.content === 'string') this.added.set(a.id, a.content);
    const vocab = this.tok.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const id = (key: string) => {
      const c = tokenContent(tokenizerConfig[key]);
      if (c === undefined) return undefined;
      this.specialTokens[key] = c;
      const i = this.tok.token_to_id(c);
      if (i === undefined) throw new ModelFileError(`tokenizer_config.json: ${key} '${c}' is not in the vocabulary`);
      return i;
    };
    this.eosTokenId = id('eos_token');
    this.bosTokenId = id('bos_token');
    this.padTokenId = id('pad_token');
    if (this.vocabSize <= 0) bad('tokenizer.json', 'the vocabulary is empty');
    const ct = tokenizerConfig.chat_template;
    if (typeof ct === 'string') this.template = compileTemplate(ct, 'chat_template', this.specialTokens);
    else if (Array.isArray(ct)) {
      const i = ct.findIndex((x) => (x as Json).name === 'default');
      if (i >= 0)
        this.template = compileTemplate((ct[i] as Json).template as string, `chat_template[${i}]`, this.specialTokens);
    }
    if (usesByteLevel(tokenizerJson)) {
      this.byteDecoder = new Map();
      bytesToUnicode().forEach((ch, b) => this.byteDecoder!.set(ch, b));
    }
  }

  /** Loads tokenizer.json and tokenizer_config.json; any problem is a ModelFileError naming the file and field. */
  static async load(dir: string): Promise<TextTokenizer> {
    const read = async (f: string, required: boolean): Promise<unknown> => {
      const p = join(dir, f);
      if (!existsSync(p)) {
        if (required) throw new ModelFileError(`${dir}: ${f} not found`);
        return {};
      }
      const bytes = await readFile(p);
      if (!isUtf8(bytes)) throw new ModelFileError(`${p}: encoding error: not valid UTF-8`);
      try {
        return JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
      } catch (e) {
        throw new ModelFileError(`${p}: not valid JSON (${(e as Error).message})`);
      }
    };
    const json = await read('tokenizer.json', true);
    const config = await read('tokenizer_config.json', false);
    try {
      return new TextTokenizer(json as Json, config as Json);
    } catch (e) {
      if (e instanceof ModelFileError) throw new ModelFileError(`${dir}/${e.message}`);
      throw e;
    }
  }

  /** Token ids of `text` (special tokens written in the text are recognised; no BOS unless asked). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** True when each token is a sequence of bytes (GPT-2 ByteLevel): stop strings and UTF-8 handled per byte. */
  get byteLevel(): boolean {
    return !!this.byteDecoder;
  }

  /** The bytes of one token (byte-level tokenizers; special tokens give their UTF-8 text). */
  tokenBytes(id: number): Uint8Array {
    const added = this.added.get(id);
    if (added !== undefined) return new TextEncoder().encode(added);
    const s = this.tok.id_to_token(id);
    if (s === undefined) throw new Error(`tokenizer: no token with id ${id}`);
    if (!this.byteDecoder) return new TextEncoder().encode(this.decode([id]));
    const out: number[] = [];
    for (const ch of s) {
      const b = this.byteDecoder.get(ch);
      if (b === undefined) out.push(...new TextEncoder().encode(ch));
      else out.push(b);
    }
    return Uint8Array.from(out);
  }

  /**
   * Decodes generated tokens, holding back an incomplete UTF-8 sequence at the end (a multi-byte
   * character cut by the token limit or a stop) instead of emitting U+FFFD for it.
   */
  decodeComplete(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): Decoded {
    if (!this.byteDecoder) {
      let text = this.decode(ids, opts);
      let pending = 0;
      while (text.endsWith('\uFFFD') && pending < Math.min(4, ids.length)) {
        const shorter = this.decode(ids.slice(0, ids.length - pending - 1), opts);
        pending++;
        if (!shorter.endsWith('\uFFFD')) {
          text = shorter;
          break;
        }
      }
      return { text, pendingBytes: text.endsWith('\uFFFD') ? 0 : pending };
    }
    const bytes: number[] = [];
    for (const id of ids) {
      if (opts.skipSpecialTokens && this.added.has(id)) continue;
      bytes.push(...this.tokenBytes(id));
    }
    const pending = incompleteUtf8Tail(bytes);
    const text = new TextDecoder('utf-8').decode(Uint8Array.from(bytes.slice(0, bytes.length - pending)));
    return { text, pendingBytes: pending };
  }

  get hasChatTemplate(): boolean {
    return !!this.template;
  }

  /** Renders the chat template of tokenizer_config.json. */
  applyChatTemplate(
    messages: ChatMessage[],
    opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {},
  ): string {
    if (!this.template) throw new Error('tokenizer_config.json has no chat_template');
    return this.template.render({
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      ...this.specialTokens,
      ...opts.extra,
    });
  }
}

/** Number of bytes at the end of `b` that start a UTF-8 sequence not yet complete (0 if none). */
export function incompleteUtf8Tail(b: ArrayLike<number>): number {
  const n = b.length;
  for (let k = 1; k <= Math.min(3, n); k++) {
    const x = b[n - k];
    if ((x & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = (x & 0xe0) === 0xc0 ? 2 : (x & 0xf0) === 0xe0 ? 3 : (x & 0xf8) === 0xf0 ? 4 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

export interface ByteTokenizerOptions {
  /** Special tokens after the 256 bytes, in id order (default <|pad|>, <|bos|>, <|eos|>). */
  specials?: string[];
  pad?: string;
  bos?: string;
  eos?: string;
  chatTemplate?: string;
}

/**
 * tokenizer.json and tokenizer_config.json of a byte-level tokenizer: token id = byte value (0-255),
 * special tokens from 256. It is a GPT-2 ByteLevel BPE without merges, so the same loader (and the
 * Python ecosystem) reads it.
 */
export function byteLevelTokenizerFiles(o: ByteTokenizerOptions = {}): { tokenizerJson: Json; tokenizerConfig: Json } {
  const specials = o.specials ?? ['<|pad|>', '<|bos|>', '<|eos|>'];
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => (vocab[ch] = b));
  const added = specials.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const tokenizerConfig: Json = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: 1_000_000,
    clean_up_tokenization_spaces: false,
    pad_token: o.pad ?? (specials.includes('<|pad|>') ? '<|pad|>' : null),
    bos_token: o.bos ?? (specials.includes('<|bos|>') ? '<|bos|>' : null),
    eos_token: o.eos ?? (specials.includes('<|eos|>') ? '<|eos|>' : null),
    ...(o.chatTemplate ? { chat_template: o.chatTemplate } : {}),
    added_tokens_decoder: Object.fromEntries(added.map((a) => [String(a.id), { ...a, id: undefined }])),
  };
  return { tokenizerJson, tokenizerConfig };
}
