#!/usr/bin/env python3
"""PyTorch reference workloads for bench/engine-generate.ts and bench/engine-model-train.ts, pinned: the
given thread count (intra-op; one inter-op thread; OMP_WAIT_POLICY=PASSIVE from the caller unless set), float32, eager, attention implementation named in the
task (default "sdpa"), generation under torch.inference_mode with transformers' generate and its KV cache,
random weights of the same config, optional PEFT LoRA on every linear layer. Prints one JSON object on
success; on any failure prints {"error": ...} and exits 1 (the benchmark then fails rather than printing a
ratio). Never part of npm test."""
import json
import os
import sys
import time


def fail(msg):
    print(json.dumps({'error': msg}))
    sys.exit(1)


try:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
except Exception as e:  # noqa: BLE001
    fail(f'PyTorch/transformers not importable: {e}')


def model_from(cfg, attn):
    c = LlamaConfig(
        vocab_size=cfg['vocab_size'],
        hidden_size=cfg['hidden_size'],
        intermediate_size=cfg['intermediate_size'],
        num_hidden_layers=cfg['num_hidden_layers'],
        num_attention_heads=cfg['num_attention_heads'],
        num_key_value_heads=cfg['num_key_value_heads'],
        head_dim=cfg['hidden_size'] // cfg['num_attention_heads'],
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        attn_implementation=attn,
    )
    torch.manual_seed(0)
    m = LlamaForCausalLM(c).float()
    m.config.pad_token_id = 0
    got = m.config._attn_implementation
    if got != attn:
        fail(f'asked for attention implementation {attn}, transformers chose {got}')
    return m


def with_lora(m, rank):
    from peft import LoraConfig, get_peft_model

    targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']
    p = get_peft_model(m, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets, lora_dropout=0.0))
    for n, w in p.named_parameters():  # a trained-looking adapter (B = 0 at init would be a no-op)
        if 'lora_B' in n:
            torch.nn.init.normal_(w, std=0.02)
    return p


def gen_time(m, vocab, b, p, n, reps):
    g = torch.Generator().manual_seed(b * 1000 + p)
    ids = torch.randint(3, vocab, (b, p), generator=g)
    mask = torch.ones_like(ids)
    kw = dict(
        max_new_tokens=n,
        min_new_tokens=n,
        use_cache=True,
        pad_token_id=0,
        eos_token_id=None,
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
    )
    with torch.inference_mode():
        m.generate(input_ids=ids, attention_mask=mask, **{**kw, 'max_new_tokens': 2, 'min_new_tokens': 2})
        best = float('inf')
        for _ in range(reps):
            t0 = time.perf_counter()
            out = m.generate(input_ids=ids, attention_mask=mask, **kw)
            best = min(best, time.perf_counter() - t0)
            if out.shape[1] != p + n:
                fail(f'generate returned {out.shape[1] - p} new tokens, expected {n}')
    return best * 1000


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(args['threads'])
    torch.set_num_interop_threads(1)
    attn = args.get('attn', 'sdpa')
    m = model_from(args['config'], attn)
    out = {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'attn': attn,
        'dtype': str(next(m.parameters()).dtype),
        'omp_wait_policy': os.environ.get('OMP_WAIT_POLICY', 'default (spin)'),
    }
    if args['task'] == 'generate':
        if args.get('lora'):
            m = with_lora(m, args['lora'])
            out['lora'] = args['lora']
        m.eval()
        reps = args.get('reps', 2)
        vocab = args['config']['vocab_size']
        out['generate'] = [
            {'batch': b, 'prompt': p, 'new': n, 'ms': gen_time(m, vocab, b, p, n, reps)} for (b, p, n) in args['runs']
        ]
    else:
        m.train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.01)
        b, t, steps = args['batch'], args['seq'], args['steps']
        ids = torch.randint(3, m.config.vocab_size, (b, t))

        def step():
            opt.zero_grad(set_to_none=True)
            loss = m(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()

        step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        out['train'] = {'batch': b, 'seq': t, 'steps': steps, 'ms_per_step': (time.perf_counter() - t0) * 1000 / steps}
    print(json.dumps(out))


if __name__ == '__main__':
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        fail(f'{type(e).__name__}: {e}')
