"""numpy doing what `cargo bench --bench linear` measures as
`linear-fqi/FrozenLake8x8-v1/random-1M/iteration`: one least-squares FQI
iteration on 1M transitions, 64 one-hot state features in 4 action blocks
(256 weights), γ = 0.99.

Two ways numpy users write it, both with everything that does not change
between iterations cached (the features of s and s', the action masks and
the inverse of the Gram matrix, computed once as our Cholesky factor is):
- per transition: Q(s',·) = Ψ(s') Θ, targets y = r + γ max Q(s',·), the
  right-hand side Φᵀy block by block, then θ = G⁻¹ Φᵀy;
- per observed pair, as pessimist does: the same iteration on the compiled
  empirical MDP (mean reward and successor distribution of each pair).

Run: python3 benches/linear_numpy.py (numpy only; prints ms per iteration).
The data are random transitions of the right shape: the cost depends on
the shapes, not on FrozenLake's dynamics.
"""

import os
import time

# One core, as the Rust target says (and as OpenBLAS is fastest here on a
# shared two-core machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

N, S, A, GAMMA = 1_000_000, 64, 4, 0.99
rng = np.random.default_rng(0)
s = rng.integers(0, S, N)
a = rng.integers(0, A, N)
s_next = rng.integers(0, S, N)
r = (rng.random(N) < 0.01).astype(np.float64)
done = rng.random(N) < 0.05
psi = np.eye(S)  # one-hot state features; Φ(s,a) puts ψ(s) in block a

# Cached once: the data's feature matrices, masks and the Gram inverse.
psi_s, psi_next = psi[s], psi[s_next]
masks = [np.flatnonzero(a == k) for k in range(A)]
blocks = [psi_s[m] for m in masks]
gram = np.zeros((S * A, S * A))
for k, x in enumerate(blocks):
    gram[k * S:(k + 1) * S, k * S:(k + 1) * S] = x.T @ x / N
gram += 1e-9 * np.trace(gram) / (S * A) * np.eye(S * A)
gram_inv = np.linalg.inv(gram)
not_done = GAMMA * (~done)


def per_transition(theta):
    q_next = psi_next @ theta.reshape(A, S).T  # N × A
    y = r + not_done * q_next.max(axis=1)
    rhs = np.concatenate([x.T @ y[m] for x, m in zip(blocks, masks)]) / N
    return gram_inv @ rhs


# The compiled empirical MDP: per pair, its count, mean reward and the
# discounted successor distribution.
pair = s * A + a
count = np.bincount(pair, minlength=S * A).astype(np.float64)
mean_r = np.bincount(pair, weights=r, minlength=S * A) / np.maximum(count, 1)
succ = np.zeros((S * A, S))
np.add.at(succ, (pair, s_next), not_done)
succ /= np.maximum(count, 1)[:, None]
phi_pairs = np.zeros((S * A, S * A))
for p in range(S * A):
    phi_pairs[p, (p % A) * S + p // A] = 1.0
weights = count / N


def per_pair(theta):
    v = (phi_pairs @ theta).reshape(S, A).max(axis=1)
    y = mean_r + succ @ v
    return gram_inv @ (phi_pairs.T @ (weights * y))


def time_it(step, repeats):
    theta = np.zeros(S * A)
    step(theta)
    start = time.perf_counter()
    for _ in range(repeats):
        theta = step(theta)
    return (time.perf_counter() - start) / repeats * 1e3


print(f"numpy {np.__version__}")
print(f"per transition: {time_it(per_transition, 20):.2f} ms per iteration")
print(f"per pair:       {time_it(per_pair, 2000):.3f} ms per iteration")
