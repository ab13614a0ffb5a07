"""Reference of model.hyb (cross-layer KV sharing) by a plain numpy forward pass.

Writes model.safetensors (random float32 weights under hyc's canonical names)
and golden.safetensors (input_ids_a [12], logits_a [12, 32] from float64).
The forward pass is written out here from docs/language.md, independently of
hyc's lowering: pre-norm residual layers, RMSNorm (eps 1e-5), GQA attention
with HF rotate-half RoPE (base 10000) and a sliding window of 5, SwiGLU MLP,
tied LM head.  A layer with kv_share uses its own q and o, and attends over
the keys and values (rotated) that its source layer made.

    python3 tests/interp/kv_share/make_reference.py   (numpy, safetensors)
"""
import os
import numpy as np
from safetensors.numpy import save_file

D, V, H, HKV, DH, HID, W, T = 16, 32, 2, 1, 8, 24, 5, 12
SOURCE = {0: None, 1: 0, 2: None, 3: 2}  # depth -> depth whose k, v it reads
rng = np.random.default_rng(7)
P = {"embed": rng.standard_normal((V, D))}
for i in range(4):
    a = f"layers.{i}.attention."
    P[a + "norm"] = 1 + 0.2 * rng.standard_normal(D)
    P[a + "q"] = rng.standard_normal((H * DH, D)) / np.sqrt(D)
    if SOURCE[i] is None:
        P[a + "k"] = rng.standard_normal((HKV * DH, D)) / np.sqrt(D)
        P[a + "v"] = rng.standard_normal((HKV * DH, D)) / np.sqrt(D)
    P[a + "o"] = rng.standard_normal((D, H * DH)) / np.sqrt(H * DH)
    m = f"layers.{i}.mlp."
    P[m + "norm"] = 1 + 0.2 * rng.standard_normal(D)
    P[m + "gate"] = rng.standard_normal((HID, D)) / np.sqrt(D)
    P[m + "up"] = rng.standard_normal((HID, D)) / np.sqrt(D)
    P[m + "down"] = rng.standard_normal((D, HID)) / np.sqrt(HID)
P["final_norm"] = 1 + 0.2 * rng.standard_normal(D)
P = {k: v.astype(np.float32) for k, v in P.items()}  # what the file holds
ids = rng.integers(0, V, T).astype(np.int32)


def rmsnorm(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w


def rope(x):  # x [T, heads, DH], rotate-half pairs (i, i + DH/2)
    half = DH // 2
    inv = 10000.0 ** (-np.arange(half) * 2 / DH)
    ang = np.arange(T)[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], -1)


p = {k: v.astype(np.float64) for k, v in P.items()}
x = p["embed"][ids]
kv = {}
for i in range(4):
    a, m = f"layers.{i}.attention.", f"layers.{i}.mlp."
    h = rmsnorm(x, p[a + "norm"])
    q = rope((h @ p[a + "q"].T).reshape(T, H, DH))
    if SOURCE[i] is None:
        k = rope((h @ p[a + "k"].T).reshape(T, HKV, DH))
        v = (h @ p[a + "v"].T).reshape(T, HKV, DH)
        kv[i] = (k, v)
    else:
        k, v = kv[SOURCE[i]]
    o = np.zeros((T, H, DH))
    for t in range(T):
        for hd in range(H):
            j = np.arange(max(0, t - W + 1), t + 1)  # causal, window W
            s = k[j, hd // (H // HKV)] @ q[t, hd] / np.sqrt(DH)
            e = np.exp(s - s.max())
            o[t, hd] = (e / e.sum()) @ v[j, hd // (H // HKV)]
    x = x + o.reshape(T, H * DH) @ p[a + "o"].T
    h = rmsnorm(x, p[m + "norm"])
    g = h @ p[m + "gate"].T
    x = x + (g / (1 + np.exp(-g)) * (h @ p[m + "up"].T)) @ p[m + "down"].T
logits = rmsnorm(x, p["final_norm"]) @ p["embed"].T

here = os.path.dirname(os.path.abspath(__file__))
save_file(P, os.path.join(here, "model.safetensors"))
save_file({"input_ids_a": ids, "logits_a": logits.astype(np.float32)}, os.path.join(here, "golden.safetensors"))
print("wrote model.safetensors, golden.safetensors")
