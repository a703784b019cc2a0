"""numpy reference of the InfoNCE (CLIP) training step of bench/peers/peers_bench.ts and
bench/train_bench.ts: batch 256, 512 -> 256 linear heads for text and image (W, b), L2-normalised
rows, logits scaled by 1/0.07, loss 1/2 mean_i(lse_j S_ij - S_ii) + 1/2 mean_j(lse_i S_ij - S_jj),
hand-written gradients, and Adam (lr 1e-3, beta 0.9/0.999, eps 1e-8, no weight decay); float32
throughout (OpenBLAS sgemm). Inputs are seeded normals and Glorot weights (numpy's generator, not
crossrank's: the time does not depend on the values).

Run (the project's environment sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE; unset them for this
command only):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/peers/numpy_step.py
"""

import time

import numpy as np

B, D_IN, D_OUT, SCALE = 256, 512, 256, 1 / 0.07
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
f32 = np.float32
rng = np.random.default_rng(0)
text = rng.standard_normal((B, D_IN), dtype=f32)
image = rng.standard_normal((B, D_IN), dtype=f32)
lim = np.sqrt(6 / (D_IN + D_OUT))
params = [
    rng.uniform(-lim, lim, (D_IN, D_OUT)).astype(f32),
    np.zeros(D_OUT, f32),
    rng.uniform(-lim, lim, (D_IN, D_OUT)).astype(f32),
    np.zeros(D_OUT, f32),
]
m = [np.zeros_like(p) for p in params]
v = [np.zeros_like(p) for p in params]


def normalize(h):
    n = np.sqrt((h * h).sum(1, keepdims=True))
    return h / n, n


def normalize_backward(y, n, g):
    return (g - y * (g * y).sum(1, keepdims=True)) / n


def softmax(s, axis):
    e = np.exp(s - s.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def step(t):
    tw, tb, iw, ib = params
    t_emb, tn = normalize(text @ tw + tb)
    i_emb, inn = normalize(image @ iw + ib)
    s = SCALE * (t_emb @ i_emb.T)
    # d loss / d S: 1/2 (softmax rows + softmax cols) / B minus the diagonal 1/B.
    gs = (0.5 * softmax(s, 1) + 0.5 * softmax(s, 0)) / B
    gs[np.diag_indices(B)] -= f32(1 / B)
    gs *= f32(SCALE)
    g_t = normalize_backward(t_emb, tn, gs @ i_emb)
    g_i = normalize_backward(i_emb, inn, gs.T @ t_emb)
    grads = [text.T @ g_t, g_t.sum(0), image.T @ g_i, g_i.sum(0)]
    c1, c2 = 1 / (1 - B1**t), 1 / (1 - B2**t)
    for k, g in enumerate(grads):
        m[k] = B1 * m[k] + (1 - B1) * g
        v[k] = B2 * v[k] + (1 - B2) * g * g
        params[k] -= f32(LR) * (m[k] * f32(c1)) / (np.sqrt(v[k] * f32(c2)) + f32(EPS))


for t in range(1, 11):  # warm-up
    step(t)
times = []
for r in range(7):
    start = time.perf_counter()
    for t in range(50):
        step(11 + 50 * r + t)
    times.append((time.perf_counter() - start) / 50)
times.sort()
print(f"numpy {np.__version__} InfoNCE step B={B} {D_IN}->{D_OUT}: median {1e3 * times[3]:.2f} ms "
      f"(min {1e3 * times[0]:.2f}, max {1e3 * times[-1]:.2f}) over 7 runs of 50 steps")
