import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

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
    this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    const ct = tokenizerConfig.chat_template;
    if (typeof ct === 'string') this.template = new Template(ct);
    else if (Array.isArray(ct)) {
      const d = ct.find((x) => (x as Json).name === 'default') as Json | undefined;
      if (d && typeof d.template === 'string') this.template = new Template(d.template);
    }
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
      if (i === undefined) throw new Error(`tokenizer_config.json: ${key} '${c}' is not in the vocabulary`);
      return i;
    };
    this.eosTokenId = id('eos_token');
    this.bosTokenId = id('bos_token');
    this.padTokenId = id('pad_token');
    if (usesByteLevel(tokenizerJson)) {
      this.byteDecoder = new Map();
      bytesToUnicode().forEach((ch, b) => this.byteDecoder!.set(ch, b));
    }
  }

  static async load(dir: string): Promise<TextTokenizer> {
    const read = async (f: string, required: boolean): Promise<Json> => {
      const p = join(dir, f);
      if (!existsSync(p)) {
        if (required) throw new Error(`${dir}: ${f} not found`);
        return {};
      }
      try {
        return JSON.parse(await readFile(p, 'utf8')) as Json;
      } catch (e) {
        throw new Error(`${p}: not valid JSON (${(e as Error).message})`);
      }
    };
    return new TextTokenizer(await read('tokenizer.json', true), await read('tokenizer_config.json', false));
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
