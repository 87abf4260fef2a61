#!/usr/bin/env python3
"""The SFT and GRPO gradients of transformers / PEFT for test/engine/model/gradients-vs-torch.test.ts
(run by hand once; npm test never needs Python).

    python3 scripts/make-gradient-fixture.py [sft] [grpo]     # both when no argument is given

Reads test/fixtures/hf/llama-tiny, computes the token-mean cross-entropy of a left-padded batch whose
prompts are not trained on, and writes test/fixtures/hf/llama-tiny/gradients.safetensors: the batch
(`prompt_len` per row, `tokens` left-padded with 0, `mask`), the loss, and the gradient of every
weight in the Hugging Face layout ([out, in] for linear weights), all computed in float32.

GRPO (`grpo`): llama-tiny with the PEFT adapter of test/fixtures/hf/llama-tiny-lora (random A and B, so
the policy differs from the reference), a left-padded batch of prompts and completions, and the GRPO loss
the engine's train program implements (engine/programs/grpo-loss.ts): per completion token the ratio
r = exp(logp - old_logp), the clipped surrogate -min(r A, clip(r, 1 - 0.2, 1 + 0.2) A) with the row's
advantage A, plus kl_coef * k3, k3 = exp(ref - logp) - (ref - logp) - 1, where ref is the same model
with the adapter disabled; all averaged over every completion token of the batch (token-mean).
old_logp is the policy's own log-prob minus a chosen log-ratio per token, so the ratios fall inside and
outside the clip range on both sides, away from its kinks, under positive and negative advantages.
Writes test/fixtures/hf/llama-tiny/grpo-gradients.safetensors: the batch, then per case `cN.` (its
temperature and KL coefficient), old_logp [B, T] (entry t: token t; 0 off the completions), the loss,
the metrics (`clip_frac`: share of tokens with |r - 1| > clip; `kl`: token-mean k3) and the gradient
of every LoRA tensor in the PEFT layout (A [r, in], B [out, r]).
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'hf', 'llama-tiny')
LORA = os.path.join(DIR, '..', 'llama-tiny-lora')
EXAMPLES = [([5, 17, 33], [40, 41, 42, 2]), ([9], [100, 200, 300, 301, 2]), ([7, 8, 9, 10, 11], [12, 2])]


def sft():
    model = LlamaForCausalLM.from_pretrained(DIR, dtype=torch.float32)
    model.train()
    width = max(len(p) + len(t) for p, t in EXAMPLES)
    tokens, mask, labels = [], [], []
    for prompt, target in EXAMPLES:
        pad = width - len(prompt) - len(target)
        tokens.append([0] * pad + prompt + target)
        mask.append([0] * pad + [1] * (len(prompt) + len(target)))
        labels.append([-100] * (pad + len(prompt)) + target)
    tokens, mask, labels = torch.tensor(tokens), torch.tensor(mask), torch.tensor(labels)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=tokens, attention_mask=mask, position_ids=positions, labels=labels)
    out.loss.backward()
    tensors = {
        'tokens': tokens,
        'mask': mask,
        'prompt_len': torch.tensor([len(p) for p, _ in EXAMPLES]),
        'loss': out.loss.detach().reshape(1),
    }
    for name, p in model.named_parameters():
        tensors[f'grad.{name}'] = p.grad.contiguous()
    save_file(tensors, os.path.join(DIR, 'gradients.safetensors'))


# (prompt, completion, advantage): mixed lengths, so left padding and the prompt mask matter.
GRPO_EXAMPLES = [
    ([5, 17, 33], [40, 41, 42, 43, 2], 1.0),
    ([9], [100, 200, 300, 301, 302, 2], -0.7),
    ([7, 8, 9, 10, 11, 12], [13, 2], 0.5),
    ([60, 61, 62, 63], [64, 65, 66, 67], -1.3),
]
# Log-ratios log(r) assigned to the completion tokens in order: inside (-0.223, 0.182) and outside on
# both sides, each at least 0.03 from a kink so float32 differences cannot move a token across one.
LOG_RATIOS = [0.05, -0.4, 0.3, -0.1, 0.12, -0.3, 0.5, 0.02, -0.15, 0.25, -0.6, 0.1, 0.4, -0.05, -0.35, 0.22, 0.0]
GRPO_CASES = [{'temperature': 1.0, 'kl_coef': 0.05}, {'temperature': 0.7, 'kl_coef': 0.2}]
CLIP = 0.2


def completion_logp(model, tokens, mask, positions, temperature):
    logits = model(input_ids=tokens, attention_mask=mask, position_ids=positions).logits
    lp = torch.log_softmax(logits[:, :-1].float() / temperature, -1)
    out = torch.zeros(tokens.shape, dtype=torch.float32)
    out[:, 1:] = lp.gather(-1, tokens[:, 1:, None])[..., 0]
    return out  # entry t = log p(token t | tokens before it)


def grpo():
    from peft import PeftModel

    base = LlamaForCausalLM.from_pretrained(DIR, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, LORA, is_trainable=True)
    model.train()
    width = max(len(p) + len(c) for p, c, _ in GRPO_EXAMPLES)
    tokens, mask, trained = [], [], []
    for prompt, completion, _ in GRPO_EXAMPLES:
        pad = width - len(prompt) - len(completion)
        tokens.append([0] * pad + prompt + completion)
        mask.append([0] * pad + [1] * (len(prompt) + len(completion)))
        trained.append([0] * (pad + len(prompt)) + [1] * len(completion))
    tokens, mask, trained = torch.tensor(tokens), torch.tensor(mask), torch.tensor(trained, dtype=torch.float32)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    adv = torch.tensor([a for _, _, a in GRPO_EXAMPLES], dtype=torch.float32)
    log_ratio = torch.zeros(tokens.shape)
    idx = trained.nonzero().tolist()
    assert len(idx) <= len(LOG_RATIOS)
    for (b, t), v in zip(idx, LOG_RATIOS):
        log_ratio[b, t] = v
    tensors = {
        'tokens': tokens,
        'mask': mask,
        'prompt_len': torch.tensor([len(p) for p, _, _ in GRPO_EXAMPLES]),
        'advantages': adv,
        'clip': torch.tensor([CLIP]),
    }
    lora = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert lora and all('lora_' in n for n, _ in lora)
    for i, case in enumerate(GRPO_CASES):
        model.zero_grad()
        temp, kl_coef = case['temperature'], case['kl_coef']
        logp = completion_logp(model, tokens, mask, positions, temp)
        with torch.no_grad(), model.disable_adapter():
            ref = completion_logp(model, tokens, mask, positions, temp)
        old = ((logp.detach() - log_ratio) * trained).contiguous()
        ratio = torch.exp(logp - old)
        a = adv[:, None]
        surrogate = -torch.min(ratio * a, torch.clamp(ratio, 1 - CLIP, 1 + CLIP) * a)
        d = ref - logp
        k3 = torch.exp(d) - d - 1
        n = trained.sum()
        loss = ((surrogate + kl_coef * k3) * trained).sum() / n
        loss.backward()
        p = f'c{i}.'
        tensors[p + 'temperature'] = torch.tensor([temp])
        tensors[p + 'kl_coef'] = torch.tensor([kl_coef])
        tensors[p + 'old_logp'] = old
        tensors[p + 'loss'] = loss.detach().reshape(1)
        tensors[p + 'kl'] = ((k3 * trained).sum() / n).detach().reshape(1)
        tensors[p + 'clip_frac'] = ((((ratio - 1).abs() > CLIP).float() * trained).sum() / n).detach().reshape(1)
        for name, q in lora:
            # base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight -> PEFT's saved key
            tensors[p + 'grad.' + name.replace('.default', '')] = q.grad.detach().clone().contiguous()
        print(f'grpo case {i}: loss {loss.item():.6f}, kl {tensors[p + "kl"].item():.6f}, '
              f'clip_frac {tensors[p + "clip_frac"].item():.3f}')
    save_file(tensors, os.path.join(DIR, 'grpo-gradients.safetensors'))


if __name__ == '__main__':
    torch.manual_seed(0)
    which = sys.argv[1:] or ['sft', 'grpo']
    if 'sft' in which:
        sft()
    if 'grpo' in which:
        grpo()
