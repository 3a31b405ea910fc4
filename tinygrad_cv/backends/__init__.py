"""``tinygrad_cv.backends``: torch.backends' switches, accepted so that scripts run.

- ``backends.cudnn``: ``enabled``, ``benchmark``, ``deterministic``, ``allow_tf32`` can be
  read and set and have no effect: tinygrad_cv does not call cuDNN (``cudnn.is_available()``
  is False), and its kernels pick no algorithms by benchmarking, so results are the same
  whatever the flags say.
- ``backends.cuda``: ``matmul.allow_tf32``, ``matmul.allow_fp16_reduced_precision_reduction``,
  ``matmul.allow_bf16_reduced_precision_reduction`` and ``cudnn``-like flags are accepted and
  have no effect (CuPy's matmul follows its own ``CUPY_TF32`` setting); ``is_built()`` says
  whether CuPy can be imported with a GPU.
- ``backends.mps``: ``is_available()`` and ``is_built()`` are False (no Metal backend).
"""
from . import cuda, cudnn, mps  # noqa: F401

_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """torch.use_deterministic_algorithms: recorded, no effect on the kernels.

    The CPU kernels are deterministic whatever the flag says.  On the GPU, the gradients that
    scatter-add (indexing with repeated indices, embeddings) use atomic adds, whose order of
    summation is not fixed; they are not switched to another algorithm and do not raise.
    """
    if not isinstance(mode, bool) or not isinstance(warn_only, bool):
        raise TypeError("use_deterministic_algorithms(): mode and warn_only must be bools")
    _deterministic.update(mode=mode, warn_only=warn_only)


def are_deterministic_algorithms_enabled():
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic["warn_only"]
