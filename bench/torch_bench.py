"""PyTorch side of the benchmark suite (run by bench/bench.ts with Debian's /usr/bin/python3).

Each row mirrors the tfjs row of the same name in bench/bench.ts: the same shapes, the same SAE step
(ReLU SAE, loss = mean_b sum_d (x_hat - x)^2 + l1 * mean_b sum_j |a_j|, Adam lr 1e-4), timed as the
minimum over repetitions after warm-up, on 2 threads. Prints one JSON object {name: {"value", "unit",
"notes"}} on stdout.

Usage: /usr/bin/python3 bench/torch_bench.py [--only NAME] [--reps N] [--threads N]
"""

import argparse
import json
import time

import torch


def best_of(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_row(m, k, n, ta, tb, reps):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(*(k, m) if ta else (m, k), generator=g)
    b = torch.randn(*(n, k) if tb else (k, n), generator=g)

    def run():
        x = a.t() if ta else a
        y = b.t() if tb else b
        torch.matmul(x, y)

    with torch.no_grad():
        s = best_of(run, reps)
    return {"value": 2 * m * k * n / s / 1e9, "unit": "GFLOP/s", "notes": f"{s * 1e3:.1f} ms"}


def sae_step_row(d_in, d_sae, batch, reps, l1=5e-3):
    g = torch.Generator().manual_seed(0)
    scale = 1 / d_in**0.5
    w = (torch.rand(d_in, d_sae, generator=g) * 2 - 1) * scale
    w_enc = torch.nn.Parameter(w.clone())
    w_dec = torch.nn.Parameter(w.t().contiguous())
    b_enc = torch.nn.Parameter(torch.zeros(d_sae))
    b_dec = torch.nn.Parameter(torch.zeros(d_in))
    x = torch.randn(batch, d_in, generator=g)
    opt = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=1e-4)

    def run():
        opt.zero_grad(set_to_none=True)
        pre = (x - b_dec) @ w_enc + b_enc
        acts = torch.relu(pre)
        recon = acts @ w_dec + b_dec
        mse = (recon - x).pow(2).sum(1).mean()
        loss = mse + l1 * acts.abs().sum(1).mean()
        loss.backward()
        opt.step()
        return loss.item()

    s = best_of(run, reps)
    return {"value": s * 1e3, "unit": "ms", "notes": "torch.optim.Adam defaults"}


def gpt2_forward_row(T, with_sae, reps):
    """gpt2-small shape, random weights, batch 1; optional d_sae 24576 SAE spliced at blocks.6.hook_resid_pre."""
    import math

    import torch.nn.functional as F

    d, L, H, V, d_mlp = 768, 12, 12, 50257, 3072
    g = torch.Generator().manual_seed(0)

    def rn(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    wte, wpe = rn(V, d), rn(1024, d)
    layers = [
        dict(
            ln1=(torch.ones(d), torch.zeros(d)),
            attn=(rn(d, 3 * d), torch.zeros(3 * d)),
            attn_proj=(rn(d, d), torch.zeros(d)),
            ln2=(torch.ones(d), torch.zeros(d)),
            fc=(rn(d, d_mlp), torch.zeros(d_mlp)),
            proj=(rn(d_mlp, d), torch.zeros(d)),
        )
        for _ in range(L)
    ]
    ln_f = (torch.ones(d), torch.zeros(d))
    sae = None
    if with_sae:
        d_sae = 24576
        w_enc = rn(d, d_sae, std=1 / math.sqrt(d))
        sae = (w_enc, torch.zeros(d_sae), w_enc.t().contiguous(), torch.zeros(d))
    tokens = torch.tensor([50256] + [(i * 7919) % V for i in range(1, T)])
    mask = torch.full((T, T), float("-inf")).triu(1)

    def gelu_new(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))

    def run():
        x = wte[tokens] + wpe[:T]  # [T, d]
        for i, p in enumerate(layers):
            if sae is not None and i == 6:
                we, be, wd, bd = sae
                x = torch.relu((x - bd) @ we + be) @ wd + bd
            h = F.layer_norm(x, (d,), *p["ln1"])
            q, k, v = (h @ p["attn"][0] + p["attn"][1]).split(d, dim=-1)
            q, k, v = (t.view(T, H, d // H).transpose(0, 1) for t in (q, k, v))  # [H, T, dh]
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d // H) + mask, dim=-1)
            y = (att @ v).transpose(0, 1).reshape(T, d)
            x = x + y @ p["attn_proj"][0] + p["attn_proj"][1]
            h = F.layer_norm(x, (d,), *p["ln2"])
            x = x + gelu_new(h @ p["fc"][0] + p["fc"][1]) @ p["proj"][0] + p["proj"][1]
        return F.layer_norm(x, (d,), *ln_f) @ wte.t()  # [T, V]

    with torch.no_grad():
        s = best_of(run, reps, warmup=1)
    return {"value": s * 1e3, "unit": "ms", "notes": f"{T / s:.0f} tokens/s"}


def toy_grid_step_row(reps, n_inst=125, batch=1024):
    """Twin of bench/toy_grid_row.ts: one step of 125 study-A SAEs (2 -> 4, all in one tensor) on a shared D1 batch
    (batch generation included): l2-normalised MSE + per-instance l1, unit-norm decoder rows, decoder-parallel
    gradient removal, Adam beta1 = 0, dead-latent bookkeeping (no latent is dead, so no ghost term, as in the TS row
    at these steps)."""
    g = torch.Generator().manual_seed(0)
    bound = (6 / 8) ** 0.5
    w_enc = torch.nn.Parameter((torch.rand(n_inst, 2, 4, generator=g) * 2 - 1) * bound)
    w_dec = torch.nn.Parameter((torch.rand(n_inst, 4, 2, generator=g) * 2 - 1) * bound)
    b_enc = torch.nn.Parameter(torch.zeros(n_inst, 4))
    b_dec = torch.nn.Parameter(torch.zeros(n_inst, 2))
    opt = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=1e-3, betas=(0.0, 0.999))
    l1 = torch.tensor([0.01, 0.03, 0.1, 0.3, 1.0]).repeat(5).repeat_interleave(5)
    c, s = 0.8775825618903728, 0.479425538604203
    toy_w = torch.tensor([[c, s], [-c, -s], [-s, c], [s, -c]])
    rows = torch.arange(batch)
    since_fired = torch.zeros(n_inst, 4)

    def run():
        i = torch.randint(0, 2, (batch,), generator=g)
        j = torch.randint(0, 2, (batch,), generator=g) + 2
        a = torch.rand(batch, generator=g)
        x = torch.zeros(batch, 4)
        x[rows, i] = a
        x[rows, j] = a
        h = x @ toy_w
        with torch.no_grad():
            w_dec.div_(w_dec.norm(dim=2, keepdim=True))
        opt.zero_grad(set_to_none=True)
        pre = torch.einsum("bd,nds->nbs", h, w_enc) + b_enc[:, None, :]
        acts = torch.relu(pre)
        recon = torch.einsum("nbs,nsd->nbd", acts, w_dec) + b_dec[:, None, :]
        mse = ((recon - h) / h.norm(dim=-1, keepdim=True)).pow(2).sum(-1)
        loss = (mse + l1[:, None] * acts.abs().sum(-1)).mean() * (n_inst / 5)
        loss.backward()
        with torch.no_grad():
            w_dec.grad -= (w_dec.grad * w_dec).sum(-1, keepdim=True) * w_dec
            fired = (acts > 1e-6).any(1)
            since_fired.add_(1)
            since_fired[fired] = 0
        opt.step()
        return loss.item()

    t = best_of(run, reps, warmup=20)
    return {"value": t * 1e3, "unit": "ms", "notes": "125 SAEs in one tensor, torch.optim.Adam(beta1=0)"}


def lm_train_flops(d, L, V, T, tokens):
    """bench/lm_train_row.ts lmTrainFlops: 6 FLOPs per matmul parameter per token plus the causal half of attention
    (12 * d * (T + 1) / 2 per token and layer)."""
    n_matmul = L * (4 * d * d + 2 * d * 4 * d) + d * V
    return tokens * (6 * n_matmul + L * 12 * d * (T + 1) / 2)


def lm_train_step_row(reps, d=128, H=4):
    """Twin of bench/lm_train_row.ts: 4 layers, d_model d, H heads, n_ctx 1024, vocab 8192; 8 rows of 1024 tokens in
    one pass; forward, cross-entropy, backward, gradient clipping at 1.0 and AdamW (lr 2e-3, betas (0.9, 0.95), wd 0.1);
    reported as GFLOP/s under the same FLOP convention."""
    import math

    import torch.nn.functional as F

    L, V, T, B = 4, 8192, 1024, 8
    d_mlp = 4 * d
    g = torch.Generator().manual_seed(0)

    def param(*shape, std=0.02, zero=False, one=False):
        t = torch.ones(*shape) if one else torch.zeros(*shape) if zero else torch.randn(*shape, generator=g) * std
        return torch.nn.Parameter(t)

    wte, wpe = param(V, d), param(T, d)
    layers = [
        dict(
            ln1=(param(d, one=True), param(d, zero=True)),
            attn=(param(d, 3 * d), param(3 * d, zero=True)),
            attn_proj=(param(d, d), param(d, zero=True)),
            ln2=(param(d, one=True), param(d, zero=True)),
            fc=(param(d, d_mlp), param(d_mlp, zero=True)),
            proj=(param(d_mlp, d), param(d, zero=True)),
        )
        for _ in range(L)
    ]
    ln_f = (param(d, one=True), param(d, zero=True))
    params = [wte, wpe, *ln_f] + [t for p in layers for pair in p.values() for t in pair]
    opt = torch.optim.AdamW(params, lr=2e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    rows = torch.randint(0, V, (B, T + 1), generator=g)
    mask = torch.full((T, T), float("-inf")).triu(1)

    def gelu_new(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))

    def run():
        tokens, targets = rows[:, :-1], rows[:, 1:]
        x = wte[tokens] + wpe[:T]  # [B, T, d]
        for p in layers:
            h = F.layer_norm(x, (d,), *p["ln1"])
            q, k, v = (h @ p["attn"][0] + p["attn"][1]).split(d, dim=-1)
            q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))  # [B, H, T, dh]
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // H) + mask, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, d)
            x = x + y @ p["attn_proj"][0] + p["attn_proj"][1]
            h = F.layer_norm(x, (d,), *p["ln2"])
            x = x + gelu_new(h @ p["fc"][0] + p["fc"][1]) @ p["proj"][0] + p["proj"][1]
        logits = F.layer_norm(x, (d,), *ln_f) @ wte.t()  # [B, T, V]
        loss = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    s = best_of(run, reps, warmup=1)
    flops = lm_train_flops(d, L, V, T, B * T)
    return {"value": flops / s / 1e9, "unit": "GFLOP/s", "notes": f"step {s * 1e3:.0f} ms, {B * T / s:.0f} tokens/s"}


ROWS = {
    "matmul_1024": lambda r: matmul_row(1024, 1024, 1024, False, False, r),
    "matmul_transpose_a": lambda r: matmul_row(1024, 1024, 1024, True, False, r),
    "matmul_transpose_b": lambda r: matmul_row(1024, 1024, 1024, False, True, r),
    "matmul_transpose_ab": lambda r: matmul_row(1024, 1024, 1024, True, True, r),
    "matmul_1024x256x4096": lambda r: matmul_row(1024, 256, 4096, False, False, r),
    "sae_step_256x4096_b1024": lambda r: sae_step_row(256, 4096, 1024, r),
    "sae_step_768x24576_b512": lambda r: sae_step_row(768, 24576, 512, max(2, r // 3)),
    "sae_step_reference_256x4096_b1024": lambda r: sae_step_row(256, 4096, 1024, r),
    "sae_step_reference_768x24576_b512": lambda r: sae_step_row(768, 24576, 512, max(2, r // 3)),
    "gpt2_small_forward_t128": lambda r: gpt2_forward_row(128, False, max(2, r // 3)),
    "gpt2_small_forward_t1024": lambda r: gpt2_forward_row(1024, False, max(2, r // 5)),
    "gpt2_small_forward_sae_t128": lambda r: gpt2_forward_row(128, True, max(2, r // 3)),
    "gpt2_small_forward_sae_t1024": lambda r: gpt2_forward_row(1024, True, max(2, r // 5)),
    "toy_grid_step": lambda r: toy_grid_step_row(max(20, r)),
    "lm_train_step": lambda r: lm_train_step_row(max(1, r // 5)),
    "lm_train_step_d256": lambda r: lm_train_step_row(max(1, r // 5), d=256, H=8),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = args.only or list(ROWS)
    out = {"_meta": {"torch": torch.__version__, "threads": torch.get_num_threads()}}
    for name in names:
        if name in ROWS:
            out[name] = ROWS[name](args.reps)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
