"""AdaptiveLogSoftmaxWithLoss (Grave et al. 2016, "Efficient softmax approximation for GPUs").

Classes [0, n_classes) are split by ``cutoffs`` c_1 < ... < c_k into a head of the frequent
classes [0, c_1) plus one entry per cluster [c_i, c_{i+1}), and k tail clusters.  With
h = log_softmax(head(x)) and t_i = log_softmax(tail_i(x)) (tail_i: Linear(in, in // div^i)
then Linear(in // div^i, cluster size), no biases):

    log p(y | x) = h[y]                                  for y < c_1
                 = h[c_1 + i - 1] + t_i[y - c_i]         for y in cluster i

``forward(input, target)`` returns (output, loss): output (N,) the target log-probabilities,
loss = mean(-output); ``log_prob(input)`` (N, n_classes) and ``predict(input)`` (its argmax).
Parameter names, shapes and init are torch's (``head``, ``tail.i.0``, ``tail.i.1``).
"""
from __future__ import annotations

from collections import namedtuple

from ... import backend
from ...tensor import Tensor, cat
from ..functional.activation import log_softmax
from ..module import Module, ModuleList, Sequential
from .linear import Linear

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs)
                or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for cluster in self.tail:
            for layer in cluster:
                layer.reset_parameters()

    def _batched(self, input, target=None):
        if input.ndim == 1 and (target is None or target.ndim == 0):
            return input.unsqueeze(0), None if target is None else target.reshape(1), False
        if input.ndim != 2:
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: expected input of shape (N, "
                               f"{self.in_features}) or ({self.in_features},), got "
                               f"{tuple(input.shape)}")
        if target is not None and (target.ndim != 1 or target.shape[0] != input.shape[0]):
            raise RuntimeError("Input and target should have the same size in the batch "
                               "dimension.")
        return input, target, True

    def forward(self, input, target):
        target = target if isinstance(target, Tensor) else Tensor(target)
        x, y, batched = self._batched(input, target)
        t = backend.to_device(y.array, x.device).astype(backend.dtype("int64"))
        xp = backend.get_array_module(t)
        if t.size and (int(t.min()) < 0 or int(t.max()) >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{int(t.min())}, {int(t.max())}] were found.")
        n = x.shape[0]
        cluster = xp.searchsorted(xp.asarray(self.cutoffs), t, side="right")   # 0: the head
        head_index = xp.where(cluster == 0, t, self.shortlist_size + cluster - 1)
        head_logprob = log_softmax(self.head(x), 1)
        output = head_logprob[xp.arange(n), head_index]
        for i in range(1, self.n_clusters + 1):
            rows = xp.flatnonzero(cluster == i)
            if rows.size == 0:
                continue
            local = log_softmax(self.tail[i - 1](x[rows]), 1)
            picked = local[xp.arange(rows.size), t[rows] - self.cutoffs[i - 1]]
            zeros = Tensor.wrap(xp.zeros(n, dtype=output.dtype))
            output = output + zeros.index_add(0, Tensor.wrap(rows), picked)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, x):
        head_logprob = log_softmax(self.head(x), 1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            local = log_softmax(self.tail[i](x), 1)
            parts.append(local + head_logprob[:, self.shortlist_size + i:self.shortlist_size + i
                                              + 1])
        return cat(parts, dim=1)

    def log_prob(self, input):
        """(N, n_classes) log-probabilities of every class (or (n_classes,) unbatched)."""
        x, _, batched = self._batched(input)
        out = self._full_log_prob(x)
        return out if batched else out.squeeze(0)

    def predict(self, input):
        """The most likely class of each row (argmax of ``log_prob``)."""
        return self.log_prob(input).argmax(dim=-1)

    def extra_repr(self):
        return ""
