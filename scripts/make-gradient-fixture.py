#!/usr/bin/env python3
"""The SFT gradients of transformers for test/engine/model/gradients-vs-torch.test.ts (run by hand once;
npm test never needs Python).

    python3 scripts/make-gradient-fixture.py

Reads test/fixtures/hf/llama-tiny, computes the token-mean cross-entropy of a left-padded batch whose
prompts are not trained on, and writes test/fixtures/hf/llama-tiny/gradients.safetensors: the batch
(`prompt_len` per row, `tokens` left-padded with 0, `mask`), the loss, and the gradient of every
weight in the Hugging Face layout ([out, in] for linear weights), all computed in float32.
"""
import os

import torch
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'hf', 'llama-tiny')
EXAMPLES = [([5, 17, 33], [40, 41, 42, 2]), ([9], [100, 200, 300, 301, 2]), ([7, 8, 9, 10, 11], [12, 2])]


def main():
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


if __name__ == '__main__':
    main()
