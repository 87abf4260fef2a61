// Model folders broken field by field: config.json, tokenizer.json, tokenizer_config.json (special tokens
// and the chat template), generation_config.json, the shard index and the safetensors headers. Every
// case must fail at load with a ModelFileError naming the file and the field (never a TypeError, a bare
// SyntaxError or a failure later at encode), or load when the change is harmless.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelFileError } from '../../engine/errors';
import { loadHFModel } from '../../engine/model';
import { MAX_HEADER_BYTES } from '../../engine/safetensors';
import { TextTokenizer } from '../../engine/tokenizer';
import { PROJECT_ROOT } from '../../workers/settings';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/hf');
type Json = Record<string, unknown>;

interface Case {
  name: string;
  folder: 'llama-tiny' | 'qwen2-tiny';
  /** Changes the copied folder. */
  apply(dir: string): void;
  /** The error must match (it must also be a ModelFileError); undefined: the folder must load. */
  fails?: RegExp;
}

const readJson = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Json;
const writeJson = (dir: string, f: string, v: unknown) => writeFileSync(join(dir, f), JSON.stringify(v));
const writeText = (dir: string, f: string, v: string | Uint8Array) => writeFileSync(join(dir, f), v);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Rewrites a safetensors file's header (the data is kept as it is). */
function editHeader(path: string, edit: (h: Json) => void): void {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Json;
  edit(header);
  const hb = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeFileSync(path, Buffer.concat([len, hb, buf.subarray(8 + n)]));
}

const cases: Case[] = [];
const add = (c: Case) => cases.push(c);
/** One case per row, named `${prefix} ${what}`, each on a fresh copy of `folder`. */
const addTable = (prefix: string, folder: Case['folder'], rows: [string, (d: string) => void, RegExp][]) => {
  for (const [what, apply, fails] of rows) add({ name: `${prefix} ${what}`, folder, apply, fails });
};

// ---- config.json: the whole file
for (const [what, text, fails] of [
  ['null', 'null', /config\.json: must be a JSON object, got null/],
  ['a list', '[1, 2]', /config\.json: must be a JSON object, got an array/],
  ['a string', '"llama"', /config\.json: must be a JSON object, got a string/],
  ['a number', '42', /config\.json: must be a JSON object, got a number/],
  ['empty object', '{}', /config\.json: model_type nothing is not supported \(supported: llama, qwen2, mistral\)/],
  ['empty file', '', /config\.json: not valid JSON/],
  ['truncated', '{"model_type": "llama", "vocab', /config\.json: not valid JSON/],
  [
    'not UTF-8',
    Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]),
    /config\.json: encoding error: not valid UTF-8/,
  ],
] as [string, string | Buffer, RegExp][])
  add({ name: `config.json is ${what}`, folder: 'llama-tiny', apply: (d) => writeText(d, 'config.json', text), fails });
add({
  name: 'config.json with a BOM loads',
  folder: 'llama-tiny',
  apply: (d) => writeText(d, 'config.json', '\uFEFF' + readFileSync(join(d, 'config.json'), 'utf8')),
});

// ---- config.json: field by field. Each field the loader reads, with the values it must refuse.
const POSITIVE_INT = ['yes', {}, [], -1, 0, 1.5, 1e12, true];
const TOKEN_ID = ['yes', {}, [], -1, 1.5, 1e12, true];
const BOOLEAN = ['yes', 'false', 1, 0, {}, []];
const POSITIVE_NUMBER = ['yes', {}, [], -1, 0, true];
const fields: [string, unknown[], { required?: boolean; ok?: unknown[]; missing?: RegExp }][] = [
  ['model_type', ['yes', 'gpt2', 1, {}, [], true], { required: true }],
  ['vocab_size', POSITIVE_INT, { required: true }],
  ['hidden_size', POSITIVE_INT, { required: true }],
  ['intermediate_size', POSITIVE_INT, { required: true }],
  ['num_hidden_layers', [...POSITIVE_INT, 1e6], { required: true }],
  ['num_attention_heads', [...POSITIVE_INT, 3], { required: true }],
  // absent, it defaults to num_attention_heads, which these weights do not have
  [
    'num_key_value_heads',
    [...POSITIVE_INT, 3, 8],
    { missing: /k_proj\.weight' has shape \[16,32\], config\.json implies \[32,32\]/ },
  ],
  ['head_dim', [...POSITIVE_INT, 7], {}],
  ['max_position_embeddings', POSITIVE_INT, {}],
  ['rms_norm_eps', POSITIVE_NUMBER, { ok: [1e-5] }],
  ['hidden_act', ['gelu', 1, {}, []], {}],
  ['tie_word_embeddings', BOOLEAN, {}],
  ['attention_bias', BOOLEAN, {}],
  ['mlp_bias', BOOLEAN, {}],
  ['bos_token_id', TOKEN_ID, { ok: [1] }],
  ['eos_token_id', [...TOKEN_ID.filter((v) => !Array.isArray(v)), [2, 'x'], [2, 400]], { ok: [[2, 3], []] }],
  ['pad_token_id', TOKEN_ID, {}],
  ['rope_parameters', ['yes', 1, [], { rope_type: 'yarn', factor: 2 }, { rope_type: 5 }, { rope_theta: -1 }], {}],
  ['rope_scaling', ['yes', 1, [], { type: 'linear' }, { type: 'linear', factor: 'x' }, { type: 'dynamic' }], {}],
  ['layer_types', ['yes', 1, {}, ['sliding_attention', 'full_attention']], { ok: [['full_attention']] }],
  ['partial_rotary_factor', [0.5, 'yes'], { ok: [1] }],
  ['pretraining_tp', [2, 'yes'], { ok: [1] }],
];
for (const [field, bad, o] of fields) {
  for (const value of bad)
    add({
      name: `config.json ${field} = ${JSON.stringify(value)}`,
      folder: 'llama-tiny',
      apply: (d) => writeJson(d, 'config.json', { ...readJson(d, 'config.json'), [field]: value }),
      // the field itself is named, or (for sizes that are consistent on their own) the size it breaks
      fails: new RegExp(`config\\.json: .*${esc(field.replace(/_parameters|_scaling/, ''))}`),
    });
  add({
    name: `config.json without ${field}`,
    folder: 'llama-tiny',
    apply: (d) => {
      const c = readJson(d, 'config.json');
      delete c[field];
      writeJson(d, 'config.json', c);
    },
    fails: o.required ? new RegExp(`config\\.json: ${esc(field)} `) : o.missing,
  });
  for (const value of o.ok ?? [])
    add({
      name: `config.json ${field} = ${JSON.stringify(value)} loads`,
      folder: 'llama-tiny',
      apply: (d) => writeJson(d, 'config.json', { ...readJson(d, 'config.json'), [field]: value }),
    });
}
add({
  name: 'config.json hidden_size consistent but unlike the weights',
  folder: 'llama-tiny',
  apply: (d) => writeJson(d, 'config.json', { ...readJson(d, 'config.json'), hidden_size: 64, head_dim: 16 }),
  fails: /model\.safetensors: tensor '[a-z_.]+' has shape \[400,32\], config\.json implies \[400,64\]/,
});
add({
  name: 'config.json qwen2 use_sliding_window = "yes"',
  folder: 'qwen2-tiny',
  apply: (d) => writeJson(d, 'config.json', { ...readJson(d, 'config.json'), use_sliding_window: 'yes' }),
  fails: /config\.json: use_sliding_window must be true or false, got "yes"/,
});
add({
  name: 'config.json unknown fields are ignored',
  folder: 'llama-tiny',
  apply: (d) => writeJson(d, 'config.json', { ...readJson(d, 'config.json'), my_field: { a: [1] }, __proto__x: 1 }),
});

// ---- tokenizer.json
const tok = (edit: (t: Json, m: Json) => unknown) => (d: string) => {
  const t = readJson(d, 'tokenizer.json');
  const out = edit(t, t.model as Json);
  writeJson(d, 'tokenizer.json', out === undefined ? t : out);
};
addTable('tokenizer.json', 'llama-tiny', [
  ['null', tok(() => null), /tokenizer\.json: must be a JSON object, got null/],
  ['{}', tok(() => ({})), /tokenizer\.json: model must be an object, got nothing/],
  ['a list', tok(() => []), /tokenizer\.json: must be a JSON object, got an array/],
  ['model null', tok((t) => void (t.model = null)), /tokenizer\.json: model must be an object, got null/],
  ['model.type unknown', tok((_, m) => void (m.type = 'Foo')), /tokenizer\.json: model\.type "Foo" is not supported/],
  ['model.type WordLevel', tok((_, m) => void (m.type = 'WordLevel')), /model\.type "WordLevel" is not supported/],
  ['model.type missing', tok((_, m) => void delete m.type), /tokenizer\.json: model\.type undefined is not supported/],
  ['model.type a number', tok((_, m) => void (m.type = 3)), /tokenizer\.json: model\.type 3 is not supported/],
  ['vocab a list', tok((_, m) => void (m.vocab = [1, 2])), /tokenizer\.json: model\.vocab must be a non-empty object/],
  ['vocab a string', tok((_, m) => void (m.vocab = 'abc')), /tokenizer\.json: model\.vocab must be a non-empty object/],
  ['vocab null', tok((_, m) => void (m.vocab = null)), /tokenizer\.json: model\.vocab must be a non-empty object/],
  ['vocab empty', tok((_, m) => void (m.vocab = {})), /tokenizer\.json: model\.vocab must be a non-empty object/],
  [
    'vocab id negative',
    tok((_, m) => void ((m.vocab as Json).a = -1)),
    /tokenizer\.json: model\.vocab\["a"\] must be a token id, got -1/,
  ],
  [
    'vocab id a string',
    tok((_, m) => void ((m.vocab as Json).a = '7')),
    /model\.vocab\["a"\] must be a token id, got "7"/,
  ],
  ['vocab id huge', tok((_, m) => void ((m.vocab as Json).a = 1e12)), /model\.vocab\["a"\] must be a token id/],
  [
    'merges a string',
    tok((_, m) => void (m.merges = 'a b')),
    /tokenizer\.json: model\.merges must be a list, got a string/,
  ],
  ['merges entry a number', tok((_, m) => void (m.merges = [1])), /tokenizer\.json: model\.merges\[0\] must be "a b"/],
  ['merges entry one-sided', tok((_, m) => void (m.merges = [['a']])), /model\.merges\[0\] must be "a b"/],
  ['added_tokens a string', tok((t) => void (t.added_tokens = 'x')), /tokenizer\.json: added_tokens must be a list/],
  [
    'added_tokens entry {}',
    tok((t) => void (t.added_tokens = [{}])),
    /tokenizer\.json: added_tokens\[0\] must be \{id, content/,
  ],
  [
    'normalizer a string',
    tok((t) => void (t.normalizer = 'NFC')),
    /tokenizer\.json: normalizer must be null or an object/,
  ],
  [
    'normalizer unknown',
    tok((t) => void (t.normalizer = { type: 'Nope' })),
    /tokenizer\.json: Unknown Normalizer type: Nope/,
  ],
  [
    'pre_tokenizer unknown',
    tok((t) => void (t.pre_tokenizer = { type: 'Nope' })),
    /tokenizer\.json: Unknown PreTokenizer type: Nope/,
  ],
  ['decoder unknown', tok((t) => void (t.decoder = { type: 'Nope' })), /tokenizer\.json: Unknown Decoder type: Nope/],
  [
    'decoder without type',
    tok((t) => void (t.decoder = {})),
    /tokenizer\.json: decoder must be null or an object with a type/,
  ],
  [
    'post_processor unknown',
    tok((t) => void (t.post_processor = { type: 'Nope' })),
    /tokenizer\.json: Unknown PostProcessor type: Nope/,
  ],
  [
    'vocab past config vocab_size',
    tok((_, m) => void ((m.vocab as Json).zzz = 500)),
    /tokenizer\.json: the vocabulary has ids up to 500, past config\.json vocab_size 400/,
  ],
  ['not JSON', (d) => writeText(d, 'tokenizer.json', '{"model": '), /tokenizer\.json: not valid JSON/],
  [
    'not UTF-8',
    (d) => writeText(d, 'tokenizer.json', Buffer.from([0x7b, 0xff, 0x7d])),
    /tokenizer\.json: encoding error/,
  ],
]);

// ---- tokenizer_config.json
const tc = (edit: (c: Json) => unknown) => (d: string) => {
  const c = readJson(d, 'tokenizer_config.json');
  const out = edit(c);
  writeJson(d, 'tokenizer_config.json', out === undefined ? c : out);
};
addTable('tokenizer_config.json', 'llama-tiny', [
  ['null', tc(() => null), /tokenizer_config\.json: must be a JSON object, got null/],
  ['a list', tc(() => []), /tokenizer_config\.json: must be a JSON object, got an array/],
  [
    'eos_token a number',
    tc((c) => void (c.eos_token = 5)),
    /tokenizer_config\.json: eos_token must be a string or \{content: string\}, got 5/,
  ],
  [
    'eos_token not in the vocabulary',
    tc((c) => void (c.eos_token = '<nope>')),
    /tokenizer_config\.json: eos_token '<nope>' is not in the vocabulary/,
  ],
  [
    'pad_token {content: 1}',
    tc((c) => void (c.pad_token = { content: 1 })),
    /tokenizer_config\.json: pad_token must be a string/,
  ],
  [
    'chat_template a number',
    tc((c) => void (c.chat_template = 5)),
    /tokenizer_config\.json: chat_template must be a string or a list/,
  ],
  [
    'chat_template [{}]',
    tc((c) => void (c.chat_template = [{}])),
    /tokenizer_config\.json: chat_template\[0\] must be \{name, template\}/,
  ],
  [
    'chat_template does not parse',
    tc((c) => void (c.chat_template = '{% if %}')),
    /tokenizer_config\.json: chat_template does not parse: /,
  ],
  [
    'chat_template unclosed',
    tc((c) => void (c.chat_template = '{% for m in messages %}{{ m.content }}')),
    /tokenizer_config\.json: chat_template does not parse: /,
  ],
  [
    'chat_template raises',
    tc((c) => void (c.chat_template = "{{ raise_exception('no') }}")),
    /tokenizer_config\.json: chat_template fails on a one-message conversation: /,
  ],
  [
    'chat_template unknown filter',
    tc((c) => void (c.chat_template = '{{ messages[0].content | nosuch }}')),
    /tokenizer_config\.json: chat_template fails on a one-message conversation: /,
  ],
  [
    'named default template does not parse',
    tc((c) => void (c.chat_template = [{ name: 'default', template: '{{' }])),
    /tokenizer_config\.json: chat_template\[0\] does not parse/,
  ],
  ['not JSON', (d) => writeText(d, 'tokenizer_config.json', '{,}'), /tokenizer_config\.json: not valid JSON/],
]);
add({
  name: 'tokenizer_config.json chat_template null loads',
  folder: 'llama-tiny',
  apply: tc((c) => void (c.chat_template = null)),
});

// ---- generation_config.json
const gc = (v: unknown) => (d: string) => writeJson(d, 'generation_config.json', v);
addTable('generation_config.json', 'llama-tiny', [
  [
    'not JSON',
    (d: string) => writeText(d, 'generation_config.json', '{"eos_token_id": 2,'),
    /generation_config\.json: not valid JSON/,
  ],
  ['null', gc(null), /generation_config\.json: must be a JSON object, got null/],
  ['a list', gc([2]), /generation_config\.json: must be a JSON object, got an array/],
  [
    'eos_token_id a string',
    gc({ eos_token_id: '2' }),
    /generation_config\.json: eos_token_id must be a token id, got "2"/,
  ],
  [
    'eos_token_id negative',
    gc({ eos_token_id: -1 }),
    /generation_config\.json: eos_token_id must be a token id, got -1/,
  ],
  [
    'eos_token_id list with a string',
    gc({ eos_token_id: [2, 'x'] }),
    /generation_config\.json: eos_token_id\[1\] must be a token id/,
  ],
  [
    'eos_token_id past the vocabulary',
    gc({ eos_token_id: 4000 }),
    /generation_config\.json: eos_token_id 4000 is not below vocab_size 400/,
  ],
  [
    'pad_token_id a list',
    gc({ pad_token_id: [0] }),
    /generation_config\.json: pad_token_id must be a token id, got a list/,
  ],
  [
    'max_new_tokens negative',
    gc({ max_new_tokens: -5 }),
    /generation_config\.json: max_new_tokens must be a positive integer, got -5/,
  ],
]);
add({ name: 'generation_config.json eos list loads', folder: 'llama-tiny', apply: gc({ eos_token_id: [2, 3] }) });

// ---- the shard index (qwen2-tiny is sharded in 4)
const INDEX = 'model.safetensors.index.json';
const idx = (edit: (j: Json) => unknown) => (d: string) => {
  const j = readJson(d, INDEX);
  const out = edit(j);
  writeJson(d, INDEX, out === undefined ? j : out);
};
addTable('index', 'qwen2-tiny', [
  ['null', idx(() => null), /model\.safetensors\.index\.json: must be a JSON object, got null/],
  [
    'without weight_map',
    idx((j) => void delete j.weight_map),
    /index\.json: weight_map must be an object \{tensor: file\}, got nothing/,
  ],
  [
    'weight_map a list',
    idx((j) => void (j.weight_map = [])),
    /index\.json: weight_map must be an object .* got an array/,
  ],
  [
    'a file escaping the folder',
    idx((j) => void ((j.weight_map as Json)['model.norm.weight'] = '../model.safetensors')),
    /index\.json: weight_map\.model\.norm\.weight names an unsafe file "\.\.\/model\.safetensors"/,
  ],
  [
    'an absolute file',
    idx((j) => void ((j.weight_map as Json)['model.norm.weight'] = '/etc/passwd')),
    /names an unsafe file "\/etc\/passwd"/,
  ],
  [
    'a file not a string',
    idx((j) => void ((j.weight_map as Json)['model.norm.weight'] = 3)),
    /weight_map\.model\.norm\.weight names an unsafe file 3/,
  ],
  [
    'a missing shard',
    idx((j) => void ((j.weight_map as Json)['model.norm.weight'] = 'model-00009-of-00009.safetensors')),
    /weight_map\.model\.norm\.weight names model-00009-of-00009\.safetensors, which is not in the folder/,
  ],
  [
    'a tensor in the wrong shard',
    idx((j) => void ((j.weight_map as Json)['model.norm.weight'] = 'model-00001-of-00004.safetensors')),
    /model-00001-of-00004\.safetensors: no tensor named 'model\.norm\.weight'/,
  ],
  [
    'a tensor missing from the map',
    idx((j) => void delete (j.weight_map as Json)['model.norm.weight']),
    /missing weights model\.norm\.weight/,
  ],
  ['not JSON', (d: string) => writeText(d, INDEX, '{'), /model\.safetensors\.index\.json: not valid JSON/],
]);

// ---- safetensors headers
const st =
  (edit: (h: Json) => void, file = 'model.safetensors') =>
  (d: string) =>
    editHeader(join(d, file), edit);
const first = (h: Json) => h['model.embed_tokens.weight'] as Json;
for (const dtype of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', 'f32', '', 'F8_E4M3'])
  add({
    name: `safetensors dtype ${JSON.stringify(dtype)}`,
    folder: 'llama-tiny',
    apply: st((h) => void (first(h).dtype = dtype)),
    fails: new RegExp(`tensor 'model\\.embed_tokens\\.weight': unknown dtype ${esc(JSON.stringify(dtype))}`),
  });
addTable('safetensors', 'llama-tiny', [
  ['dtype a number', st((h) => void (first(h).dtype = 4)), /unknown dtype 4/],
  [
    'dtype I16',
    st((h) => void (first(h).dtype = 'I16')),
    /I16\[400,32\] needs 25600 bytes but data_offsets span 51200/,
  ],
  ['shape a string', st((h) => void (first(h).shape = 'x')), /shape "x" is not a list of non-negative integers/],
  ['shape negative', st((h) => void (first(h).shape = [-400, -32])), /shape \[-400,-32\] is not a list/],
  [
    'shape huge',
    st((h) => void (first(h).shape = [1e15, 1e15])),
    /needs .* bytes but data_offsets span 51200|is not a list/,
  ],
  [
    'offsets reversed',
    st((h) => void (first(h).data_offsets = [51200, 0])),
    /data_offsets \[51200,0\] are not \[begin, end\]/,
  ],
  [
    'offsets past the end',
    st((h) => void (first(h).data_offsets = [1e9, 1e9 + 51200])),
    /past the data section|hole or overlap/,
  ],
  [
    'entry not an object',
    st((h) => void (h['model.embed_tokens.weight'] = 'x')),
    /tensor 'model\.embed_tokens\.weight': entry is not an object|unknown dtype/,
  ],
  [
    '__metadata__ not strings',
    st((h) => void (h.__metadata__ = { format: 1 })),
    /__metadata__\.format is not a string/,
  ],
  ['__metadata__ a list', st((h) => void (h.__metadata__ = [])), /__metadata__ is not an object/],
  [
    'a tensor renamed',
    st((h) => {
      h['model.embed_tokens.weight_x'] = h['model.embed_tokens.weight'];
      delete h['model.embed_tokens.weight'];
    }),
    /unexpected tensor 'model\.embed_tokens\.weight_x'/,
  ],
  [
    'a header that is a list',
    (d: string) => {
      const hb = Buffer.from('[1, 2, 3]');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(hb.length));
      writeFileSync(join(d, 'model.safetensors'), Buffer.concat([len, hb]));
    },
    /header is not a JSON object/,
  ],
]);
add({
  name: 'safetensors header length past the end of the file',
  folder: 'llama-tiny',
  apply: (d) => {
    const p = join(d, 'model.safetensors');
    const b = readFileSync(p);
    b.writeBigUInt64LE(BigInt(b.length));
    writeFileSync(p, b);
  },
  fails: /header length \d+ is past the end of the file/,
});
add({
  name: 'safetensors header length 2^60 (no allocation)',
  folder: 'llama-tiny',
  apply: (d) => {
    const p = join(d, 'model.safetensors');
    const b = readFileSync(p);
    b.writeBigUInt64LE(2n ** 60n);
    writeFileSync(p, b);
  },
  fails: new RegExp(`header length 1152921504606846976 exceeds ${MAX_HEADER_BYTES}`),
});
add({
  name: 'safetensors file truncated',
  folder: 'llama-tiny',
  apply: (d) => {
    const p = join(d, 'model.safetensors');
    writeFileSync(p, readFileSync(p).subarray(0, 5000));
  },
  fails: /model\.safetensors: .*(past the data section|file truncated)/,
});
add({
  name: 'safetensors file of 3 bytes',
  folder: 'llama-tiny',
  apply: (d) => writeText(d, 'model.safetensors', 'abc'),
  fails: /shorter than the 8-byte header length/,
});
add({
  name: 'safetensors header not UTF-8',
  folder: 'llama-tiny',
  apply: (d) => {
    const p = join(d, 'model.safetensors');
    const b = readFileSync(p);
    b[10] = 0xff;
    writeFileSync(p, b);
  },
  fails: /header is not valid UTF-8 JSON/,
});
add({
  name: 'a shard header dtype __proto__',
  folder: 'qwen2-tiny',
  apply: st((h) => {
    const k = Object.keys(h).find((x) => x !== '__metadata__')!;
    (h[k] as Json).dtype = '__proto__';
  }, 'model-00002-of-00004.safetensors'),
  fails: /model-00002-of-00004\.safetensors: tensor '.*': unknown dtype "__proto__"/,
});
add({
  name: 'no weights at all',
  folder: 'llama-tiny',
  apply: (d) => writeText(d, 'model.safetensors.index.json', ''),
  fails: /model\.safetensors\.index\.json: not valid JSON/,
});

test(`model folders broken field by field: ${cases.length} cases, each fails at load naming file and field (or loads)`, async () => {
  const failures: string[] = [];
  let failed = 0;
  for (const c of cases) {
    const dir = await mkdtemp(join(tmpdir(), 'rrl-model-'));
    cpSync(join(FIXTURES, c.folder), dir, {
      recursive: true,
      filter: (src) => !/expected|gradients/.test(src),
    });
    c.apply(dir);
    const err = await loadHFModel(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!c.fails) {
      if (err) failures.push(`${c.name}: expected to load, got ${String(err)}`);
      continue;
    }
    failed++;
    if (!err) failures.push(`${c.name}: loaded, expected ${c.fails}`);
    else if (!(err instanceof ModelFileError))
      failures.push(`${c.name}: ${(err as Error).name}: ${(err as Error).message}`);
    else if (!c.fails.test(err.message))
      failures.push(`${c.name}: message ${JSON.stringify(err.message)} !~ ${c.fails}`);
    else if (!err.message.startsWith(dir) && !err.message.startsWith(`safetensors ${dir}`))
      failures.push(`${c.name}: the message does not name the file in the folder: ${err.message}`);
  }
  console.log(`model folder cases: ${cases.length} (${failed} must fail, ${cases.length - failed} must load)`);
  assert.deepEqual(failures, []);
});

test('a tokenizer built from objects fails at construction, not at encode', () => {
  assert.throws(() => new TextTokenizer({ model: { type: 'BPE', vocab: [1] } }), /tokenizer\.json: model\.vocab/);
  assert.throws(() => new TextTokenizer(null as never), /tokenizer\.json: must be a JSON object, got null/);
});
