"""The optimizer tests' problem: a small two-layer least-squares fit, identical in both
frameworks (weights, inputs and targets drawn once in NumPy)."""
import numpy as np

import tinygrad_cv as tg
from tinygrad_cv import nn


def two_layer_problem(dtype=np.float64, seed=0, samples=32):
    """([w1 (4, 6), b1 (6,), w2 (6, 2)], X (samples, 4), Y (samples, 2)) in ``dtype``."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(4, 6)), rng.normal(size=6) * 0.1, rng.normal(size=(6, 2))]
    X, Y = rng.normal(size=(samples, 4)), rng.normal(size=(samples, 2))
    return [w.astype(dtype) for w in weights], X.astype(dtype), Y.astype(dtype)


class TwoLayer(nn.Module):
    """tanh(x @ w1 + b1) @ w2 with the given weights."""

    def __init__(self, weights):
        super().__init__()
        self.w1 = nn.Parameter(tg.Tensor(weights[0].copy()))
        self.b1 = nn.Parameter(tg.Tensor(weights[1].copy()))
        self.w2 = nn.Parameter(tg.Tensor(weights[2].copy()))

    def forward(self, x):
        return (x @ self.w1 + self.b1).tanh() @ self.w2
