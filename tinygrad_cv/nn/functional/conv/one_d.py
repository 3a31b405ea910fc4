"""``conv1d`` and ``conv_transpose1d``: the 2-D convolutions on an (N, C, 1, L) view.

A 1-D convolution of x (N, C, L) with w (O, C/groups, k) is the 2-D one of x[:, :, None, :]
with w[:, :, None, :] (a kernel one row high), stride (1, s), padding (0, p), dilation (1, d);
the result's unit row is dropped.  So the 1-D layers run the 2-D algorithms (``dispatch``),
threads, CuPy arrays and ONNX export (Conv between two Reshapes) with no kernel of their own.
Unbatched (C, L) inputs are a batch of one (``batching``).
"""
from __future__ import annotations

from ....arguments import single
from ..batching import add_batch, drop_batch
from .convolution import conv2d
from .transposed import conv_transpose2d


def _check_weight(op, x, w, in_axis, groups):
    if w.ndim != 3:
        raise ValueError(f"{op}: expected a 3-D weight (out, in/groups, k) for a 1-D "
                         f"convolution, got weight of size {list(w.shape)}")
    expected = w.shape[0] if in_axis == 0 else w.shape[1] * groups
    if x.shape[1] != expected:
        raise ValueError(f"{op}: given groups={groups}, weight of size {list(w.shape)}, expected "
                         f"input{list(x.shape)} to have {expected} channels, but got "
                         f"{x.shape[1]} channels instead")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation, torch.nn.functional.conv1d's semantics.

    input (N, C, L) or (C, L), weight (O, C/groups, k), bias (O,) -> (N, O, Lo) with
    ``Lo = (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1``; ``padding``: int,
    1-tuple, 'same' (stride 1; an odd total puts the extra on the right) or 'valid'.
    """
    op = "conv1d"
    x, unbatched = add_batch(input, 3, op)
    groups = int(groups)
    _check_weight(op, x, weight, 1, groups)
    (s,), (d,) = single(stride, "stride", op), single(dilation, "dilation", op)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
        if padding == "same" and s != 1:
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
        pad2 = padding
        p = 0 if padding == "valid" else d * (weight.shape[2] - 1) // 2
    else:
        (p,) = single(padding, "padding", op)
        if p < 0:
            raise ValueError(f"{op}: negative padding is not supported, got {padding!r}")
        pad2 = (0, p)
    length = x.shape[2] + 2 * p
    if padding != "same" and length < d * (weight.shape[2] - 1) + 1:
        raise ValueError(f"{op}: calculated padded input size per channel: ({length}). Kernel "
                         f"size: ({d * (weight.shape[2] - 1) + 1}). Kernel size can't be "
                         "greater than actual input size (the input is too small)")
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), pad2, (1, d), groups)
    return drop_batch(y.squeeze(2), unbatched)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution, torch.nn.functional.conv_transpose1d's semantics.

    input (N, Cin, L) or (Cin, L), weight (Cin, Cout/groups, k) -> (N, Cout, Lo) with
    ``Lo = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    """
    op = "conv_transpose1d"
    x, unbatched = add_batch(input, 3, op)
    groups = int(groups)
    _check_weight(op, x, weight, 0, groups)
    (s,), (d,) = single(stride, "stride", op), single(dilation, "dilation", op)
    (p,), (op_,) = single(padding, "padding", op), single(output_padding, "output_padding", op)
    if not (op_ < s or op_ < d):
        raise ValueError(f"{op}: output padding must be smaller than either stride or "
                         f"dilation, but got output_padding={op_}, stride={s}, dilation={d}")
    y = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (0, op_),
                         groups, (1, d))
    return drop_batch(y.squeeze(2), unbatched)
