import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TextTokenizer, byteLevelTokenizerFiles, incompleteUtf8Tail } from '../../../engine/tokenizer';
import { loadHFModel } from '../../../engine/model';
import { FIXTURES } from './helpers';

interface Expected {
  samples: { text: string; ids: number[]; decoded: string }[];
  chat: { messages: { role: string; content: string }[]; rendered: string; ids: number[] };
  vocab_size: number;
}

test('a real BPE tokenizer.json gives the token ids of the Python tokenizers library', async () => {
  const dir = join(FIXTURES, 'tokenizer');
  const ex = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Expected;
  const tok = await TextTokenizer.load(dir);
  assert.equal(tok.vocabSize, ex.vocab_size);
  for (const s of ex.samples) {
    assert.deepEqual(tok.encode(s.text), s.ids, s.text);
    // Python's Tokenizer.decode skips special tokens by default.
    assert.equal(tok.decode(s.ids, { skipSpecialTokens: true }), s.decoded);
    assert.equal(tok.decodeComplete(s.ids, { skipSpecialTokens: true }).text, s.decoded);
    assert.equal(tok.decode(s.ids), s.text);
  }
  assert.ok(tok.byteLevel);
  assert.equal(tok.eosTokenId, tok.tokenToId('<|im_end|>'));
});

test('the chat template renders as transformers renders it', async () => {
  const dir = join(FIXTURES, 'tokenizer');
  const ex = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Expected;
  const tok = await TextTokenizer.load(dir);
  const text = tok.applyChatTemplate(ex.chat.messages, { addGenerationPrompt: true });
  assert.equal(text, ex.chat.rendered);
  assert.deepEqual(tok.encode(text), ex.chat.ids);
});

test('model folders load their tokenizer', async () => {
  const m = await loadHFModel(join(FIXTURES, 'qwen2-tiny'));
  assert.ok(m.tokenizer);
  assert.equal(m.tokenizer.vocabSize, m.config.vocabSize);
});

test('byte-level tokenizer: id = byte, special tokens after 256, exact round trip', () => {
  const f = byteLevelTokenizerFiles();
  const tok = new TextTokenizer(f.tokenizerJson, f.tokenizerConfig);
  assert.equal(tok.vocabSize, 259);
  assert.deepEqual([tok.padTokenId, tok.bosTokenId, tok.eosTokenId], [256, 257, 258]);
  const all = String.fromCharCode(...Array.from({ length: 128 }, (_, i) => i));
  assert.deepEqual(
    tok.encode(all),
    Array.from({ length: 128 }, (_, i) => i),
  );
  const s = 'héllo 😀 東京 \\boxed{42}<|eos|>';
  const ids = tok.encode(s);
  assert.deepEqual(ids.slice(0, 3), [104, 195, 169]);
  assert.equal(ids[ids.length - 1], 258);
  assert.equal(tok.decode(ids), s);
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), s.replace('<|eos|>', ''));
});

test('partial UTF-8 at the end of byte-level output is held back, not garbled', () => {
  const f = byteLevelTokenizerFiles();
  const tok = new TextTokenizer(f.tokenizerJson, f.tokenizerConfig);
  const ids = tok.encode('ok 😀'); // the emoji is 4 bytes
  for (let cut = 1; cut <= 3; cut++) {
    const d = tok.decodeComplete(ids.slice(0, ids.length - cut));
    assert.equal(d.text, 'ok ');
    assert.equal(d.pendingBytes, 4 - cut);
  }
  assert.deepEqual(tok.decodeComplete(ids), { text: 'ok 😀', pendingBytes: 0 });
  assert.equal(incompleteUtf8Tail([0xe6, 0x9d]), 2);
  assert.equal(incompleteUtf8Tail([0xe6, 0x9d, 0xb1]), 0);
  assert.equal(incompleteUtf8Tail([0x41]), 0);
});
