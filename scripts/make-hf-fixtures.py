#!/usr/bin/env python3
"""Reference fixtures for the engine's model tests (run by hand once; npm test never needs Python).

    pip install torch transformers peft tokenizers safetensors
    python3 scripts/make-hf-fixtures.py

Writes test/fixtures/hf/:
  tokenizer/            a byte-level BPE tokenizer.json trained here on a few paragraphs, tokenizer_config.json
                        with a ChatML chat template, and expected.json (token ids of sample texts, a rendered chat)
  llama-tiny/           random LlamaConfig checkpoint (float32, one file, untied, GQA) + tokenizer files
  llama-tiny-f16/       the same weights stored as F16
  llama-tiny-lora/      a PEFT LoRA adapter for llama-tiny (random A and B, so it changes the outputs)
  llama3-rope-tiny/     random llama with rope_scaling llama3 (tied embeddings)
  mistral-tiny/         random MistralConfig checkpoint (sliding_window 64, longer than the test inputs)
  qwen2-tiny/           random Qwen2Config checkpoint (QKV bias, tied embeddings) stored as BF16, sharded with an index
  */expected.safetensors  inputs (left-padded batch of mixed prompt lengths, attention mask, position ids) and
                        the reference logits / last hidden states computed by transformers in float32
No weights or data are downloaded: everything is random or trained here.
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers, processors
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'hf')
torch.manual_seed(0)

TEXT = """Problem: Tom has 3 apples and buys 5 more. How many apples does he have?
Answer: He starts with 3 apples. He buys 5 more, so 3 + 5 = 8. The answer is \\boxed{8}.
The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
Rewrite the solution in your own words, keep every step correct and the final answer the same.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 42 100 2026. Symbols: + - * / = ( ) [ ] { } < > , . ; : ! ?
Unicode: café, naïve, Zürich, 東京, 😀 emoji, “quotes”, em—dash.
def f(x):\n    return x * 2\n
"""
SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SAMPLES = [
    'Hello world',
    'Problem: Tom has 3 apples and buys 5 more.',
    '  leading spaces and trailing  ',
    'café 東京 😀 “quotes”',
    'x = \\boxed{42}\n\nnew lines\ttab',
    '<|im_start|>user\nhi<|im_end|>',
    'unseen words: zyxwvut qqq',
]


def make_tokenizer(out):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TEXT] * 20, trainer=trainer)
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, 'tokenizer.json'))
    config = {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'bos_token': None,
        'eos_token': '<|im_end|>',
        'pad_token': '<|endoftext|>',
        'chat_template': CHAT_TEMPLATE,
        'model_max_length': 128,
        'clean_up_tokenization_spaces': False,
    }
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast.from_pretrained(out)
    messages = [
        {'role': 'system', 'content': 'You are helpful.'},
        {'role': 'user', 'content': 'What is 3 + 5?'},
    ]
    chat = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    expected = {
        'samples': [{'text': s, 'ids': tok.encode(s).ids, 'decoded': tok.decode(tok.encode(s).ids)} for s in SAMPLES],
        'chat': {'messages': messages, 'rendered': chat, 'ids': hf(chat, add_special_tokens=False)['input_ids']},
        'vocab_size': tok.get_vocab_size(),
    }
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    return tok.get_vocab_size()


def batch_inputs(vocab):
    g = torch.Generator().manual_seed(1)
    lengths = [7, 3, 5]
    t = max(lengths)
    ids = torch.zeros(len(lengths), t, dtype=torch.long)
    mask = torch.zeros(len(lengths), t, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, t - n :] = torch.randint(3, vocab, (n,), generator=g)
        mask[b, t - n :] = 1
    pos = mask.cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, 1)
    return ids, mask, pos


def record(model, out, vocab, extra=None):
    ids, mask, pos = batch_inputs(vocab)
    model.eval()
    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask, position_ids=pos, output_hidden_states=True)
        single = model(input_ids=ids[:1], output_hidden_states=False)
    tensors = {
        'input_ids': ids,
        'attention_mask': mask,
        'position_ids': pos,
        'logits': o.logits.float().contiguous(),
        'last_hidden': o.hidden_states[-1].float().contiguous(),
        'single_logits': single.logits.float().contiguous(),
    }
    tensors.update(extra or {})
    save_file(tensors, os.path.join(out, 'expected.safetensors'))


def copy_tokenizer(src, dst):
    for f in ['tokenizer.json', 'tokenizer_config.json']:
        shutil.copy(os.path.join(src, f), os.path.join(dst, f))


def main():
    tok_dir = os.path.join(ROOT, 'tokenizer')
    vocab = make_tokenizer(tok_dir)

    # llama: untied, GQA 4 heads / 2 kv heads, float32.
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        initializer_range=0.2,  # large enough that logits are O(1) and the 1e-4 check means something
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=2,
        pad_token_id=0,
    )
    llama = LlamaForCausalLM(cfg).float()
    with torch.no_grad():  # make the norms non-trivial
        for n, p in llama.named_parameters():
            if 'norm' in n:
                p.add_(torch.randn_like(p) * 0.1)
    d = os.path.join(ROOT, 'llama-tiny')
    llama.save_pretrained(d, safe_serialization=True)
    copy_tokenizer(tok_dir, d)
    record(llama, d, vocab)

    # The same weights stored as F16: reference logits from the F16 weights computed in float32.
    d16 = os.path.join(ROOT, 'llama-tiny-f16')
    llama16 = LlamaForCausalLM(cfg)
    llama16.load_state_dict(llama.state_dict())
    llama16.half().save_pretrained(d16, safe_serialization=True)
    record(LlamaForCausalLM.from_pretrained(d16, torch_dtype=torch.float32), d16, vocab)

    # PEFT LoRA on all linear layers, with random B so the adapter matters.
    from peft import LoraConfig, get_peft_model

    lcfg = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        lora_dropout=0.0,
        bias='none',
        task_type='CAUSAL_LM',
        init_lora_weights=False,
    )
    base = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32)
    peft_model = get_peft_model(base, lcfg)
    dl = os.path.join(ROOT, 'llama-tiny-lora')
    peft_model.save_pretrained(dl)
    acfg_path = os.path.join(dl, 'adapter_config.json')
    with open(acfg_path) as f:
        acfg = json.load(f)
    acfg['base_model_name_or_path'] = '../llama-tiny'  # not this machine's absolute path
    acfg['target_modules'] = sorted(acfg['target_modules'])
    with open(acfg_path, 'w') as f:
        json.dump(acfg, f, indent=2)
    record(peft_model, dl, vocab)

    # qwen2: QKV bias, tied embeddings, 6 heads / 2 kv heads, stored as BF16 in two shards.
    qcfg = Qwen2Config(
        vocab_size=vocab,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=128,
        initializer_range=0.2,  # large enough that logits are O(1) and the 1e-4 check means something
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=None,
        eos_token_id=2,
    )
    qwen = Qwen2ForCausalLM(qcfg)
    with torch.no_grad():
        for n, p in qwen.named_parameters():
            if 'norm' in n or 'bias' in n:
                p.add_(torch.randn_like(p) * 0.1)
    dq = os.path.join(ROOT, 'qwen2-tiny')
    qwen.to(torch.bfloat16).save_pretrained(dq, safe_serialization=True, max_shard_size='40KB')
    copy_tokenizer(tok_dir, dq)
    record(Qwen2ForCausalLM.from_pretrained(dq, torch_dtype=torch.float32), dq, vocab)
    # mistral: llama's architecture with a sliding window (64 > the fixture's sequences, so it never acts).
    mcfg = MistralConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=1,
        max_position_embeddings=128,
        initializer_range=0.2,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        sliding_window=64,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=2,
    )
    mistral = MistralForCausalLM(mcfg).float()
    dm = os.path.join(ROOT, 'mistral-tiny')
    mistral.save_pretrained(dm, safe_serialization=True)
    record(mistral, dm, vocab)
    # llama with llama3 RoPE scaling (original context 16, so every frequency band is exercised).
    r3 = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        initializer_range=0.2,
        rope_theta=10000.0,
        rope_scaling={
            'rope_type': 'llama3',
            'factor': 8.0,
            'low_freq_factor': 1.0,
            'high_freq_factor': 4.0,
            'original_max_position_embeddings': 16,
        },
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=2,
    )
    llama3 = LlamaForCausalLM(r3).float()
    d3 = os.path.join(ROOT, 'llama3-rope-tiny')
    llama3.save_pretrained(d3, safe_serialization=True)
    record(llama3, d3, vocab)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f'fixtures written to {ROOT}: {total / 1e6:.2f} MB')


if __name__ == '__main__':
    main()
