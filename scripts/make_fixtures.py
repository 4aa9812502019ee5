#!/usr/bin/python3
"""Generates the parity fixtures under tests/fixtures/ (gpt2_tiny/, sae_tiny/).

Run from the project root with Debian's Python and python3-torch:

    /usr/bin/python3 scripts/make_fixtures.py

The reference implementation below is written from the GPT-2 definition
(Radford et al. 2019; Hugging Face's GPT2LMHeadModel weight layout) and from
SAELens's documented SAE forward passes, independently of the TypeScript code.
It computes in float64 from float32 weights, so the stored references are the
exact values the float32 TypeScript code approximates. Everything is seeded:
running the script twice writes identical files.

Outputs (all small; < 2 MB in total):
  gpt2_tiny/config.json, model.safetensors       2 layers, d_model 64, 4 heads, n_ctx 64, vocab 512,
                                                 HF layout without the `transformer.` prefix (as the hub's gpt2)
  gpt2_tiny/reference.safetensors                tokens, logits, per-token losses, every hook activation,
                                                 and the centred model's residual activations
  gpt2_tiny/prefixed/...                         1 layer, d_model 32, `transformer.`-prefixed keys with the
                                                 attn.bias / masked_bias buffers and lm_head.weight
  sae_tiny/{legacy_standard,v5_scaled,v6_topk,v6_jumprelu}/cfg.json + sae_weights.safetensors
  sae_tiny/reference.safetensors                 feature activations and reconstructions of each SAE on the
                                                 centred blocks.1.hook_resid_pre, and the spliced losses
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

# ----------------------------------------------------------------- safetensors

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int32"): "I32"}


def save_safetensors(path, tensors, metadata=None):
    """Writes a safetensors file: u64 LE header length, JSON header padded with spaces to 8 bytes, data."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = _DTYPES[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def save_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def f32(t):
    return t.detach().to(torch.float32).numpy()


# ----------------------------------------------------------------- GPT-2 reference

def hf_config(n_layer, n_head, d_model, n_ctx, vocab, bos):
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": bos,
        "embd_pdrop": 0.1,
        "eos_token_id": bos,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": n_ctx,
        "n_embd": d_model,
        "n_head": n_head,
        "n_inner": None,
        "n_layer": n_layer,
        "n_positions": n_ctx,
        "resid_pdrop": 0.1,
        "tie_word_embeddings": True,
        "vocab_size": vocab,
    }


def random_gpt2(gen, n_layer, d, n_ctx, vocab):
    """Random weights in HF layout (Conv1D weights are [in, out]), float32, with non-trivial biases,
    LayerNorm gains and per-row offsets in the embeddings so that centring changes them."""

    def normal(*shape, std=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float32) * std

    w = {}
    w["wte.weight"] = normal(vocab, d, std=0.5) + normal(vocab, 1, std=0.3)
    w["wpe.weight"] = normal(n_ctx, d, std=0.2) + normal(n_ctx, 1, std=0.2)
    s = 1.0 / math.sqrt(d)
    for l in range(n_layer):
        h = f"h.{l}."
        w[h + "ln_1.weight"] = 1.0 + normal(d, std=0.1)
        w[h + "ln_1.bias"] = normal(d, std=0.05)
        w[h + "attn.c_attn.weight"] = normal(d, 3 * d, std=s)
        w[h + "attn.c_attn.bias"] = normal(3 * d, std=0.05)
        w[h + "attn.c_proj.weight"] = normal(d, d, std=s) + normal(d, 1, std=0.1)
        w[h + "attn.c_proj.bias"] = normal(d, std=0.05) + 0.1
        w[h + "ln_2.weight"] = 1.0 + normal(d, std=0.1)
        w[h + "ln_2.bias"] = normal(d, std=0.05)
        w[h + "mlp.c_fc.weight"] = normal(d, 4 * d, std=s)
        w[h + "mlp.c_fc.bias"] = normal(4 * d, std=0.05)
        w[h + "mlp.c_proj.weight"] = normal(4 * d, d, std=0.5 / math.sqrt(d)) + normal(4 * d, 1, std=0.05)
        w[h + "mlp.c_proj.bias"] = normal(d, std=0.05) - 0.1
    w["ln_f.weight"] = 1.0 + normal(d, std=0.1)
    w["ln_f.bias"] = normal(d, std=0.05)
    return w


def centre_writing_weights(w, n_layer):
    """TransformerLens center_writing_weights in HF layout: every tensor that writes into the residual
    stream has its mean over the d_model (output) axis removed. As in TransformerLens, the unembedding
    is a separate copy of the original W_E (TransformerLens unties W_U from W_E when loading), so the
    logits do not change."""
    out = dict(w)
    out["lm_head.weight"] = w["wte.weight"]

    def centred(t):  # in float64, rounded once to float32
        t = t.to(torch.float64)
        return (t - t.mean(dim=-1, keepdim=True)).to(torch.float32)

    for key in ["wte.weight", "wpe.weight"]:
        out[key] = centred(w[key])
    for l in range(n_layer):
        for mod in ["attn.c_proj", "mlp.c_proj"]:
            wk, bk = f"h.{l}.{mod}.weight", f"h.{l}.{mod}.bias"
            out[wk] = centred(w[wk])
            out[bk] = centred(w[bk])
    return out


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * g + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def gpt2_forward(w32, tokens, n_layer, n_head, hooks=None):
    """Returns (logits, cache) in float64; `hooks` maps a TransformerLens hook name to a replacement fn."""
    w = {k: v.to(torch.float64) for k, v in w32.items()}
    hooks = hooks or {}
    cache = {}

    def point(name, x):
        if name in hooks:
            x = hooks[name](x)
        cache[name] = x
        return x

    B, T = tokens.shape
    d = w["wte.weight"].shape[1]
    dh = d // n_head
    embed = point("hook_embed", w["wte.weight"][tokens])
    pos = point("hook_pos_embed", w["wpe.weight"][:T].unsqueeze(0).expand(B, T, d))
    x = embed + pos
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(n_layer):
        h = f"h.{l}."
        x = point(f"blocks.{l}.hook_resid_pre", x)
        a = layer_norm(x, w[h + "ln_1.weight"], w[h + "ln_1.bias"])
        qkv = a @ w[h + "attn.c_attn.weight"] + w[h + "attn.c_attn.bias"]
        q, k, v = qkv.split(d, dim=-1)
        q = q.reshape(B, T, n_head, dh).transpose(1, 2)
        k = k.reshape(B, T, n_head, dh).transpose(1, 2)
        v = v.reshape(B, T, n_head, dh).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        scores = scores.masked_fill(~causal, float("-inf"))
        z = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, d)
        attn_out = point(f"blocks.{l}.hook_attn_out", z @ w[h + "attn.c_proj.weight"] + w[h + "attn.c_proj.bias"])
        mid = point(f"blocks.{l}.hook_resid_mid", x + attn_out)
        m = layer_norm(mid, w[h + "ln_2.weight"], w[h + "ln_2.bias"])
        m = gelu_new(m @ w[h + "mlp.c_fc.weight"] + w[h + "mlp.c_fc.bias"])
        mlp_out = point(f"blocks.{l}.hook_mlp_out", m @ w[h + "mlp.c_proj.weight"] + w[h + "mlp.c_proj.bias"])
        x = point(f"blocks.{l}.hook_resid_post", mid + mlp_out)
    normalized = point("ln_final.hook_normalized", layer_norm(x, w["ln_f.weight"], w["ln_f.bias"]))
    logits = normalized @ w.get("lm_head.weight", w["wte.weight"]).T
    return logits, cache


def loss_per_token(logits, tokens):
    """TransformerLens lm_cross_entropy_loss(per_token=True): -log p(t[j+1]) for j = 0..T-2."""
    log_probs = torch.log_softmax(logits, dim=-1)
    return -log_probs[:, :-1].gather(-1, tokens[:, 1:, None].long()).squeeze(-1)


# ----------------------------------------------------------------- SAE reference

def sae_encode(p, x, arch, k=None):
    sae_in = x - p["b_dec"] if p.get("apply_b_dec_to_input", True) else x
    hidden_pre = sae_in @ p["W_enc"] + p["b_enc"]
    if arch == "standard":
        return torch.relu(hidden_pre)
    if arch == "topk":
        vals, idx = torch.topk(hidden_pre, k=k, dim=-1)
        out = torch.zeros_like(hidden_pre)
        return out.scatter(-1, idx, torch.relu(vals))
    if arch == "jumprelu":
        return torch.relu(hidden_pre) * (hidden_pre > p["threshold"]).to(hidden_pre.dtype)
    raise ValueError(arch)


def sae_decode(p, f):
    scale = p.get("scaling_factor")
    if scale is not None:
        f = f * scale
    return f @ p["W_dec"] + p["b_dec"]


def random_sae(gen, x, d_sae, arch):
    d_in = x.shape[-1]

    def normal(*shape, std=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * std

    flat = x.reshape(-1, d_in)
    b_dec = flat.mean(dim=0) + normal(d_in, std=0.05)
    scale = float((flat - b_dec).norm(dim=-1).mean())
    W_enc = normal(d_in, d_sae, std=1.0 / scale)
    b_enc = normal(d_sae, std=0.1) - (0.6 if arch == "standard" else 0.0)
    W_dec = normal(d_sae, d_in)
    W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True) * (0.3 * scale)
    p = {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec}
    if arch == "jumprelu":
        p["threshold"] = 0.1 + 0.4 * torch.rand(d_sae, generator=gen, dtype=torch.float64)
    # round every parameter to float32 so the reference uses exactly the stored values
    return {k: v.to(torch.float32).to(torch.float64) for k, v in p.items()}


def sae_cfg(variant, d_in, d_sae, hook, k=None):
    common_meta = {
        "model_name": "gpt2-tiny-fixture",
        "context_size": 16,
        "prepend_bos": True,
        "dataset_path": "fixture",
    }
    if variant == "legacy_standard":
        # pre-6.0 keys as in the 2024 gpt2-small-res-jb files
        return {
            "architecture": "standard",
            "d_in": d_in,
            "d_sae": d_sae,
            "activation_fn_str": "relu",
            "apply_b_dec_to_input": True,
            "finetuning_scaling_factor": False,
            "context_size": 16,
            "model_name": "gpt2-tiny-fixture",
            "hook_point": hook,
            "hook_point_layer": 1,
            "hook_point_head_index": None,
            "prepend_bos": True,
            "dataset_path": "fixture",
            "normalize_activations": False,
            "dtype": "torch.float32",
            "device": "cpu",
            "sae_lens_training_version": None,
        }
    if variant == "v5_scaled":
        # SAELens 5.x flat keys, with a fine-tuned scaling factor
        return {
            "architecture": "standard",
            "d_in": d_in,
            "d_sae": d_sae,
            "activation_fn": "relu",
            "apply_b_dec_to_input": True,
            "finetuning_scaling_factor": True,
            "hook_name": hook,
            "hook_layer": 1,
            "hook_head_index": None,
            "normalize_activations": "none",
            "dtype": "float32",
            "device": "cpu",
            "sae_lens_training_version": "5.9.1",
            **common_meta,
        }
    arch = "topk" if variant == "v6_topk" else "jumprelu"
    cfg = {
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": variant == "v6_topk",
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            **common_meta,
            "hook_name": hook,
            "hook_head_index": None,
            "sae_lens_version": "6.18.0",
            "sae_lens_training_version": "6.18.0",
        },
        "architecture": arch,
    }
    if k is not None:
        cfg["k"] = k
        cfg["rescale_acts_by_decoder_norm"] = False
    return cfg


# ----------------------------------------------------------------- main

def main():
    gen = torch.Generator().manual_seed(20240501)

    # --- the main tiny model: 2 layers, d_model 64, 4 heads, n_ctx 64, vocab 512
    n_layer, n_head, d, n_ctx, vocab = 2, 4, 64, 64, 512
    bos = vocab - 1
    w = random_gpt2(gen, n_layer, d, n_ctx, vocab)
    B, T = 2, 24
    tokens = torch.randint(0, vocab - 1, (B, T), generator=gen, dtype=torch.int64)
    tokens[:, 0] = bos
    tokens[1, 13] = bos  # a second document starting mid-row
    logits, cache = gpt2_forward(w, tokens, n_layer, n_head)
    loss = loss_per_token(logits, tokens)

    wc = centre_writing_weights(w, n_layer)
    logits_c, cache_c = gpt2_forward(wc, tokens, n_layer, n_head)
    # self-checks of the equivalence the TypeScript tests rely on
    assert torch.allclose(logits_c, logits, atol=1e-5), "centring changed the logits"
    for name, act in cache_c.items():
        if "resid" in name:
            raw = cache[name]
            assert torch.allclose(act, raw - raw.mean(dim=-1, keepdim=True), atol=1e-5), name
            assert float(act.mean(dim=-1).abs().max()) < 1e-7, name

    out = os.path.join(ROOT, "gpt2_tiny")
    save_json(os.path.join(out, "config.json"), hf_config(n_layer, n_head, d, n_ctx, vocab, bos))
    save_safetensors(os.path.join(out, "model.safetensors"), {k: v.numpy() for k, v in w.items()}, {"format": "pt"})
    ref = {"tokens": tokens.to(torch.int32).numpy(), "logits": f32(logits), "loss_per_token": f32(loss)}
    for name, act in cache.items():
        ref["raw." + name] = f32(act)
    for l in range(n_layer):
        for h in ["hook_resid_pre", "hook_resid_mid", "hook_resid_post"]:
            ref[f"centered.blocks.{l}.{h}"] = f32(cache_c[f"blocks.{l}.{h}"])
    save_safetensors(os.path.join(out, "reference.safetensors"), ref)

    # --- the prefixed variant: 1 layer, d_model 32, 2 heads, n_ctx 16, vocab 100, with buffers and lm_head
    p_layer, p_head, p_d, p_ctx, p_vocab = 1, 2, 32, 16, 100
    wp = random_gpt2(gen, p_layer, p_d, p_ctx, p_vocab)
    tok_p = torch.randint(0, p_vocab, (2, 10), generator=gen, dtype=torch.int64)
    logits_p, _ = gpt2_forward(wp, tok_p, p_layer, p_head)
    stored = {"transformer." + k: v.numpy() for k, v in wp.items()}
    for l in range(p_layer):
        stored[f"transformer.h.{l}.attn.bias"] = np.tril(np.ones((p_ctx, p_ctx), np.float32)).reshape(1, 1, p_ctx, p_ctx)
        stored[f"transformer.h.{l}.attn.masked_bias"] = np.array(-1e4, np.float32)
    stored["lm_head.weight"] = wp["wte.weight"].numpy()
    pout = os.path.join(out, "prefixed")
    save_json(os.path.join(pout, "config.json"), hf_config(p_layer, p_head, p_d, p_ctx, p_vocab, p_vocab - 1))
    save_safetensors(os.path.join(pout, "model.safetensors"), stored, {"format": "pt"})
    save_safetensors(
        os.path.join(pout, "reference.safetensors"),
        {"tokens": tok_p.to(torch.int32).numpy(), "logits": f32(logits_p), "loss_per_token": f32(loss_per_token(logits_p, tok_p))},
    )

    # --- SAEs on the centred blocks.1.hook_resid_pre
    hook = "blocks.1.hook_resid_pre"
    x = cache_c[hook]
    sae_out_dir = os.path.join(ROOT, "sae_tiny")
    sae_ref = {}
    variants = [("legacy_standard", 256, "standard", None), ("v5_scaled", 128, "standard", None),
                ("v6_topk", 128, "topk", 8), ("v6_jumprelu", 128, "jumprelu", None)]
    for variant, d_sae, arch, k in variants:
        p = random_sae(gen, x, d_sae, arch)
        cfg = sae_cfg(variant, d, d_sae, hook, k)
        p["apply_b_dec_to_input"] = cfg["apply_b_dec_to_input"]
        weights = {name: p[name] for name in ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"] if name in p}
        if variant == "legacy_standard":
            weights["scaling_factor"] = torch.ones(d_sae, dtype=torch.float64)  # all ones: dropped on load
        if variant == "v5_scaled":
            s = (0.5 + torch.rand(d_sae, generator=gen, dtype=torch.float64)).to(torch.float32).to(torch.float64)
            weights["scaling_factor"] = s
            p["scaling_factor"] = s
        f = sae_encode(p, x, arch, k)
        x_hat = sae_decode(p, f)
        sae_ref[f"{variant}.feature_acts"] = f32(f)
        sae_ref[f"{variant}.sae_out"] = f32(x_hat)
        spliced_logits, _ = gpt2_forward(wc, tokens, n_layer, n_head,
                                         {hook: lambda a, p=p, arch=arch, k=k: sae_decode(p, sae_encode(p, a, arch, k))})
        sae_ref[f"{variant}.spliced_loss_per_token"] = f32(loss_per_token(spliced_logits, tokens))
        l0 = float((f > 0).sum(-1).double().mean())
        print(f"{variant}: d_sae {d_sae}, mean L0 {l0:.1f}", file=sys.stderr)
        vdir = os.path.join(sae_out_dir, variant)
        save_json(os.path.join(vdir, "cfg.json"), cfg)
        save_safetensors(os.path.join(vdir, "sae_weights.safetensors"), {n: f32(t) for n, t in weights.items()})
    save_safetensors(os.path.join(sae_out_dir, "reference.safetensors"), sae_ref)

    total = 0
    for base in ["gpt2_tiny", "sae_tiny"]:
        for dirpath, _, files in os.walk(os.path.join(ROOT, base)):
            total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print(f"fixtures written under {os.path.normpath(ROOT)}: {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
