#!/usr/bin/env python3
"""PyTorch reference of one GRPO step for bench/grpo-step.ts (never part of npm test).

    python3 bench/grpo_step_torch.py        (driven by bench/grpo-step.ts over stdin / stdout)

Protocol, one JSON object per line: the first line read is the setting, answered by the versions; then
each line read is one step's batch (`prompts`, `qa_prompts`, `completions`), answered by its timings
and results. The engine runs each step just before, so both sides see the same load.

The same model folder and initial PEFT adapter as the engine side, float32, torch.set_num_threads(N),
the attention implementation named in the spec (printed back). Per step, three timed stages:
  rollout  transformers generate under torch.inference_mode with the LoRA policy (unmerged PEFT):
           K samples per prompt, exactly `max_new` tokens, temperature, top-k off, top-p 1, and the
           sampler's log-probs (log_softmax(logits / T) of the sampled tokens);
  reward   the frozen backbone (adapter disabled) under inference_mode: NLL per answer token of each
           rewrite under the QA prefix, the mean-pooled last hidden state of the rewrite alone, and
           the group rewards and GRPO advantages of method/rewards.ts (every rewrite feasible);
  update   the forward that recomputes the old log-probs (inference_mode), then the GRPO loss
           (token-level clipped surrogate, token-mean, k3 KL to the adapter-off model) backward through
           the PEFT LoRA, global-norm clipping 1.0 and one AdamW step.
Reward and update run on the engine's sampled completions of the same step (the spec carries them), so
both sides score and train on the same batch; the rollout samples its own tokens of the same shape.
Answers {"error": ...} when PyTorch, transformers or peft is missing.
"""
import json
import math
import sys
import time

try:
    import torch
    import transformers
    import peft
    from peft import PeftModel
    from transformers import GenerationConfig, LlamaForCausalLM
except Exception as e:  # noqa: BLE001
    print(json.dumps({'error': f'PyTorch/transformers/peft not importable: {e}'}), flush=True)
    sys.exit(0)


def left_pad(rows, pad):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def tail_logp(model, ids, mask, pos, n, temperature):
    """log p of the last n tokens of each (left-padded) row, logits only for the positions predicting them."""
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=n + 1).logits[:, :-1]
    return torch.log_softmax(logits.float() / temperature, -1).gather(-1, ids[:, -n:, None])[..., 0]


# method/rewards.ts, in float64 like the TypeScript
def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def alignment(nll, gate):
    f = [i for i, g in enumerate(gate) if g == 1]
    out = [0.0] * len(nll)
    if not f:
        return out
    mean = sum(nll[i] for i in f) / len(f)
    std = 1 if len(f) == 1 else math.sqrt(sum((nll[i] - mean) ** 2 for i in f) / len(f))
    for i in f:
        out[i] = sigmoid(-(nll[i] - mean) / (std + 1e-6))
    return out


def mean_pairwise(emb, members):
    if len(members) < 2:
        return 0.0
    total, pairs = 0.0, 0
    for a in range(len(members)):
        for b in range(a + 1, len(members)):
            total += (1 - sum(x * y for x, y in zip(emb[members[a]], emb[members[b]]))) / 2
            pairs += 1
    return total / pairs


def diversity(emb, gate):
    f = [i for i, g in enumerate(gate) if g == 1]
    whole = mean_pairwise(emb, f)
    return [max(0.0, whole - mean_pairwise(emb, [j for j in f if j != i])) if gate[i] == 1 else 0.0 for i in range(len(emb))]


def group_advantages(nll, emb, lam_dist, lam_div):
    gate = [1] * len(nll)
    dist, div = alignment(nll, gate), diversity(emb, gate)
    r = [g * (1 + lam_dist * d + lam_div * v) for g, d, v in zip(gate, dist, div)]
    mean = sum(r) / len(r)
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / len(r))
    return [(x - mean) / (std + 1e-6) for x in r]


def main():
    spec = json.loads(sys.stdin.readline())
    torch.set_num_threads(spec['threads'])
    torch.manual_seed(spec.get('seed', 0))
    base = LlamaForCausalLM.from_pretrained(spec['model_dir'], dtype=torch.float32, attn_implementation=spec['attn'])
    model = PeftModel.from_pretrained(base, spec['adapter_dir'], is_trainable=True)
    pad, T, N, K = spec['pad_id'], spec['temperature'], spec['max_new'], spec['k']
    clip, kl_coef = spec['clip'], spec['kl_coef']
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec['lr'], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    gen_cfg = GenerationConfig(
        do_sample=True, temperature=T, top_k=0, top_p=1.0, max_new_tokens=N, min_new_tokens=N,
        eos_token_id=None, pad_token_id=pad, use_cache=True, output_logits=True, return_dict_in_generate=True,
    )
    print(json.dumps({
        'torch': torch.__version__, 'transformers': transformers.__version__, 'peft': peft.__version__,
        'threads': torch.get_num_threads(), 'attn_implementation': base.config._attn_implementation,
    }), flush=True)
    for line in sys.stdin:
        step = json.loads(line)
        s = {}
        clock = lambda: (time.perf_counter(), time.process_time())  # noqa: E731
        since = lambda c: ((time.perf_counter() - c[0]) * 1000, (time.process_time() - c[1]) * 1000)  # noqa: E731
        # rollout
        model.eval()
        c = clock()
        with torch.inference_mode():
            prompts = [p for p in step['prompts'] for _ in range(K)]
            ids, mask, _ = left_pad(prompts, pad)
            g = model.generate(input_ids=ids, attention_mask=mask, generation_config=gen_cfg)
            sampled = g.sequences[:, ids.shape[1]:]
            logits = torch.stack(g.logits, 1).float()
            sampler_logp = torch.log_softmax(logits / T, -1).gather(-1, sampled[..., None])[..., 0]
        s['rollout_ms'], s['rollout_cpu_ms'] = since(c)
        assert sampled.shape == (len(prompts), N), f'rollout shape {tuple(sampled.shape)}'
        assert torch.isfinite(sampler_logp).all()
        comps = step['completions']
        # reward: the frozen backbone
        c = clock()
        with torch.inference_mode(), model.disable_adapter():
            qa = [q for q in step['qa_prompts'] for _ in range(K)]
            ids, mask, pos = left_pad([q + x for q, x in zip(qa, comps)], pad)
            nll = (-tail_logp(model, ids, mask, pos, N, 1.0).mean(-1)).tolist()
            ids, mask, pos = left_pad(comps, pad)
            hidden = model.base_model.model.model(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
            w = mask[..., None].float()
            emb = torch.nn.functional.normalize((hidden * w).sum(1) / w.sum(1), dim=-1).double().tolist()
        adv = []
        for i in range(0, len(comps), K):
            adv += group_advantages(nll[i:i + K], emb[i:i + K], spec['lambda_dist'], spec['lambda_div'])
        s['reward_ms'], s['reward_cpu_ms'] = since(c)
        # update: recompute old log-probs, then one GRPO step
        c = clock()
        ids, mask, pos = left_pad([p + x for p, x in zip(prompts, comps)], pad)
        with torch.inference_mode():
            old = tail_logp(model, ids, mask, pos, N, T)
        model.train()
        logp = tail_logp(model, ids, mask, pos, N, T)
        with torch.no_grad(), model.disable_adapter():
            ref = tail_logp(model, ids, mask, pos, N, T)
        a = torch.tensor(adv, dtype=torch.float32)[:, None]
        ratio = torch.exp(logp - old)
        per_tok = -torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a)
        d = ref - logp
        k3 = torch.exp(d) - d - 1
        loss = (per_tok + kl_coef * k3).mean()  # every completion has N tokens: the token-mean
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        s['update_ms'], s['update_cpu_ms'] = since(c)
        s['total_ms'] = s['rollout_ms'] + s['reward_ms'] + s['update_ms']
        s['total_cpu_ms'] = s['rollout_cpu_ms'] + s['reward_cpu_ms'] + s['update_cpu_ms']
        s.update(loss=loss.item(), kl=k3.mean().item(), grad_norm=grad_norm.item(), nll=nll, adv=adv)
        print(json.dumps(s), flush=True)

if __name__ == '__main__':
    main()
