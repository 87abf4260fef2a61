#!/usr/bin/env python3
"""PyTorch reference workloads for bench/engine-generate.ts and bench/engine-model-train.ts (eager, float32,
the same thread count, random weights of the same config). Prints one JSON object. Never part of npm test."""
import json
import sys
import time

try:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
except Exception as e:  # noqa: BLE001
    print(json.dumps({'error': f'PyTorch/transformers not importable: {e}'}))
    sys.exit(0)


def model_from(cfg):
    c = LlamaConfig(
        vocab_size=cfg['vocab_size'],
        hidden_size=cfg['hidden_size'],
        intermediate_size=cfg['intermediate_size'],
        num_hidden_layers=cfg['num_hidden_layers'],
        num_attention_heads=cfg['num_attention_heads'],
        num_key_value_heads=cfg['num_key_value_heads'],
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    m = LlamaForCausalLM(c).float()
    m.config.pad_token_id = 0
    return m


def gen_time(m, b, p, n, sample=True):
    ids = torch.randint(3, m.config.vocab_size, (b, p))
    mask = torch.ones_like(ids)
    kw = dict(max_new_tokens=n, min_new_tokens=n, use_cache=True, pad_token_id=0, eos_token_id=None)
    kw.update(dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0) if sample else dict(do_sample=False))
    with torch.no_grad():
        m.generate(input_ids=ids, attention_mask=mask, **{**kw, 'max_new_tokens': 2, 'min_new_tokens': 2})
        best = float('inf')
        for _ in range(2):
            t0 = time.perf_counter()
            m.generate(input_ids=ids, attention_mask=mask, **kw)
            best = min(best, time.perf_counter() - t0)
    return best * 1000


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(args['threads'])
    m = model_from(args['config'])
    m.eval()
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if args['task'] == 'generate':
        out['generate'] = [
            {'batch': b, 'prompt': p, 'new': n, 'ms': gen_time(m, b, p, n)} for (b, p, n) in args['runs']
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
    main()
