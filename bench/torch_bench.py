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


ROWS = {
    "matmul_1024": lambda r: matmul_row(1024, 1024, 1024, False, False, r),
    "matmul_transpose_a": lambda r: matmul_row(1024, 1024, 1024, True, False, r),
    "matmul_transpose_b": lambda r: matmul_row(1024, 1024, 1024, False, True, r),
    "matmul_transpose_ab": lambda r: matmul_row(1024, 1024, 1024, True, True, r),
    "matmul_1024x256x4096": lambda r: matmul_row(1024, 256, 4096, False, False, r),
    "sae_step_256x4096_b1024": lambda r: sae_step_row(256, 4096, 1024, r),
    "sae_step_768x24576_b512": lambda r: sae_step_row(768, 24576, 512, max(2, r // 3)),
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
