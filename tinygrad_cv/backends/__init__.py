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
