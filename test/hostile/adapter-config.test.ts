// A PEFT adapter's adapter_config.json broken field by field: wrong types, bad ranks, targets and alpha,
// missing fields, not an object at all. Each must fail at load with a ModelFileError naming the file and
// the field (never a TypeError or a silent default), or load when the change is one PEFT accepts too;
// and loading never changes a file of the folder.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelFileError } from '../../engine/errors';
import { loadPeftAdapter } from '../../engine/lora/lora';
import { loadHFModel } from '../../engine/model';
import { FIXTURES } from '../engine/model/helpers';
import { tempDir } from '../helpers/temporal';
import { snapshot } from './helpers';
const original = JSON.parse(readFileSync(join(FIXTURES, 'llama-tiny-lora/adapter_config.json'), 'utf8')) as Record<
  string,
  unknown
>;

/** A field set to a value (undefined: removed), or the whole file's text; `fails` undefined: it must load. */
type Case = { name: string; fails?: RegExp } & ({ field: string; value: unknown } | { text: string });

const field = (name: string, value: unknown, fails?: RegExp): Case => ({
  name: `${name} = ${value === undefined ? '(missing)' : JSON.stringify(value)}`,
  field: name,
  value,
  fails,
});

const cases: Case[] = [
  // not a config at all
  { name: 'empty file', text: '', fails: /cannot read/ },
  { name: 'not JSON', text: '{"r": 4,', fails: /cannot read/ },
  { name: 'null', text: 'null', fails: /must be a JSON object, not null/ },
  { name: 'an array', text: '[]', fails: /must be a JSON object, not an array/ },
  { name: 'a number', text: '4', fails: /must be a JSON object, not a number/ },
  { name: 'a string', text: '"LORA"', fails: /must be a JSON object, not a string/ },
  // peft_type
  ...[undefined, null, 'lora', 'PREFIX_TUNING', 1].map((v) => field('peft_type', v, /peft_type .* is not LORA/)),
  // r: the rank
  ...[undefined, null, 0, -4, 2.5, '4', true, [4], {}, Number.POSITIVE_INFINITY].map((v) =>
    field('r', v, /r must be a positive integer/),
  ),
  // a rank the tensors do not have
  ...[2, 8, 1e9, Number.MAX_SAFE_INTEGER + 1].map((v) =>
    field('r', v, /adapter_model\.safetensors: .* has shape \[.*\], expected/),
  ),
  // lora_alpha (absent: PEFT's default 8)
  field('lora_alpha', undefined),
  field('lora_alpha', 16),
  field('lora_alpha', 0.5),
  ...[null, 0, -8, '8', true, [8], {}].map((v) => field('lora_alpha', v, /lora_alpha must be a positive number/)),
  // use_rslora (absent: false)
  field('use_rslora', undefined),
  field('use_rslora', true),
  ...[null, 'yes', 1, 0, []].map((v) => field('use_rslora', v, /use_rslora must be true or false/)),
  // target_modules
  ...[undefined, null, 4, true, {}, [], [1, 2], ['q_proj', null]].map((v) =>
    field('target_modules', v, /target_modules must be a non-empty list of names or a pattern/),
  ),
  ...[['q_proj', 'lm_head'], ['embed_tokens'], ['Q_PROJ']].map((v) =>
    field('target_modules', v, /target module '.*' is not a linear layer of this model family/),
  ),
  ...['(', '[q_proj', '*'].map((v) => field('target_modules', v, /target_modules .* is not a valid pattern/)),
  ...['nothing', 'lm_head'].map((v) => field('target_modules', v, /target_modules .* matches no linear layer/)),
  // fewer targets than the tensors hold: the extra tensors are named
  field('target_modules', ['q_proj', 'v_proj'], /unexpected tensors/),
  // 'all-linear' names the seven layers the fixture's tensors hold
  field('target_modules', 'all-linear', undefined),
  // features this engine does not run
  ...(
    [
      ['use_dora', true],
      ['fan_in_fan_out', true],
      ['bias', 'all'],
      ['modules_to_save', ['lm_head']],
      ['layers_to_transform', [0]],
      ['rank_pattern', { q_proj: 8 }],
      ['alpha_pattern', { q_proj: 8 }],
      ['lora_bias', true],
      ['use_qalora', true],
      ['layer_replication', [[0, 1]]],
      ['target_parameters', ['w']],
      ['trainable_token_indices', [1]],
    ] as const
  ).map(([k, v]) => field(k, v, new RegExp(`${k} = .* is not supported`))),
  // fields this engine does not read may be anything PEFT writes
  field('base_model_name_or_path', undefined),
  field('base_model_name_or_path', 'artifact://models/x'),
  field('lora_dropout', 0.3),
  field('task_type', undefined),
];

test(`adapter_config.json broken field by field (${cases.length} cases): each fails naming file and field, or loads`, async () => {
  const model = await loadHFModel(join(FIXTURES, 'llama-tiny'));
  const work = await tempDir('rewrite-rl-adapter-');
  let failed = 0;
  for (const [i, c] of cases.entries()) {
    const dir = join(work, String(i));
    cpSync(join(FIXTURES, 'llama-tiny-lora'), dir, { recursive: true });
    const cfgPath = join(dir, 'adapter_config.json');
    if ('text' in c) writeFileSync(cfgPath, c.text);
    else {
      const cfg: Record<string, unknown> = { ...original };
      if (c.value === undefined) delete cfg[c.field];
      else cfg[c.field] = c.value;
      writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    }
    const before = snapshot(dir);
    const result = await loadPeftAdapter(dir, model.config).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.deepEqual(snapshot(dir), before, `${c.name}: loading changed the folder`);
    if (!c.fails) {
      assert.equal(result, undefined, `${c.name} must load: ${result?.message}`);
      continue;
    }
    failed++;
    assert.ok(result instanceof ModelFileError, `${c.name}: ${result?.stack ?? 'loaded'}`);
    assert.ok(result.message.startsWith(dir), `${c.name}: names the folder's file: ${result.message}`);
    assert.match(result.message, c.fails, c.name);
    if ('field' in c && !/safetensors|unexpected tensors/.test(c.fails.source))
      assert.ok(result.message.startsWith(`${cfgPath}: `), `${c.name}: names adapter_config.json`);
  }
  assert.ok(failed >= 60, `${failed} failing cases`);
});
