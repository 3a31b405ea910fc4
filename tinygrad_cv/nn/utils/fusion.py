"""Folding an eval-mode BatchNorm into the convolution or linear layer before it
(torch.nn.utils' fuse_conv_bn_eval / fuse_conv_bn_weights / fuse_linear_bn_eval /
fuse_linear_bn_weights).

With s = bn_w / sqrt(running_var + eps): W' = W * s (per output channel), b' = (b - running_mean)
* s + bn_b, so that conv'(x) = bn(conv(x)) in eval mode."""
from __future__ import annotations

import copy

from ...autograd.mode import no_grad
from ...creation import ones_like, zeros_like
from ..module import Parameter


def _check_eval(*modules):
    if any(m.training for m in modules):
        raise ValueError("Fusion only for eval! Call .eval() on both modules first")


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The fused (weight, bias) Parameters (dtypes of the convolution's; ``transpose``: the
    weight is a transposed convolution's, output channels on dim 1)."""
    with no_grad():
        w_dtype = conv_w.dtype
        b_dtype = conv_b.dtype if conv_b is not None else w_dtype
        b_requires_grad = conv_b.requires_grad if conv_b is not None else False
        conv_b = zeros_like(bn_rm) if conv_b is None else conv_b
        bn_w = ones_like(bn_rm) if bn_w is None else bn_w
        bn_b = zeros_like(bn_rm) if bn_b is None else bn_b
        rsqrt = (bn_rv + bn_eps).rsqrt()
        shape = ([1, -1] if transpose else [-1, 1]) + [1] * (conv_w.ndim - 2)
        w = (conv_w * (bn_w * rsqrt).reshape(shape)).to(w_dtype)
        b = ((conv_b - bn_rm) * rsqrt * bn_w + bn_b).to(b_dtype)
    return Parameter(w, conv_w.requires_grad), Parameter(b, b_requires_grad)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` computing ``bn(conv(x))`` (both in eval mode)."""
    _check_eval(conv, bn)
    fused = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fuse_conv_bn_eval: the BatchNorm must track running statistics")
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
        transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The fused (weight, bias) Parameters of a Linear followed by a BatchNorm1d."""
    with no_grad():
        w_dtype = linear_w.dtype
        b_dtype = linear_b.dtype if linear_b is not None else w_dtype
        b_requires_grad = linear_b.requires_grad if linear_b is not None else False
        linear_b = zeros_like(bn_rm) if linear_b is None else linear_b
        scale = bn_w * (bn_rv + bn_eps).rsqrt()
        w = linear_w * scale.unsqueeze(-1).to(w_dtype)
        b = ((linear_b - bn_rm) * scale + bn_b).to(b_dtype)
    return Parameter(w, linear_w.requires_grad), Parameter(b, b_requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` computing ``bn(linear(x))`` (both in eval mode)."""
    _check_eval(linear, bn)
    if not (linear.out_features == bn.num_features or bn.num_features == 1):
        raise ValueError("To fuse, linear.out_features must equal bn.num_features or "
                         "bn.num_features must be 1")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fuse_linear_bn_eval: the BatchNorm must track running statistics")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused
