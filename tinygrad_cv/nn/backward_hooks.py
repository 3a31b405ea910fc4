"""Module backward hooks (torch's ``register_full_backward_hook`` and
``register_full_backward_pre_hook``).

During a hooked module's call, its positional Tensor inputs and its outputs each pass through
one identity node (``_HookIdentity``).  In the backward pass the outputs' node runs first: it
records ``grad_output`` (one entry per output, None for a non-Tensor or an output without
gradient), lets the pre-hooks ``hook(module, grad_output)`` replace it and passes it on.  The
inputs' node runs once the gradients of the inputs are known: the hooks
``hook(module, grad_input, grad_output)`` see ``grad_input`` (one entry per positional argument,
None for non-Tensors) and may return a replacement.  When no input requires a gradient the
hooks run at the outputs' node with ``grad_input`` all None (they must then return None).
"""
from __future__ import annotations

import warnings

from ..autograd.function import Function
from ..autograd.mode import is_grad_enabled
from ..tensor import Tensor


class _HookIdentity(Function):
    """Identity on several tensors whose backward hands the gradients to ``on_grads``."""

    higher_order = True

    @staticmethod
    def forward(ctx, *arrays, on_grads=None, materialize=False):
        ctx.on_grads = on_grads
        ctx.set_materialize_grads(materialize)
        return tuple(a.view() for a in arrays)

    @staticmethod
    def backward(ctx, *grads):
        raw = any(g is not None and not isinstance(g, Tensor) for g in grads)
        out = ctx.on_grads(tuple(g if g is None or isinstance(g, Tensor) else Tensor.wrap(g)
                                 for g in grads))
        if raw:
            out = tuple(g.array if isinstance(g, Tensor) else g for g in out)
        return out if len(out) > 1 else out[0]


def _wrap(values, on_grads, materialize):
    """``values`` (a tuple) with its Tensors passed through one ``_HookIdentity``; returns
    (new values, indices of the Tensors) or (values, None) when none needs a gradient.
    ``materialize``: an unused entry's gradient is zeros (inputs, as torch) or None (outputs)."""
    index = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
    if not (is_grad_enabled() and any(values[i].requires_grad for i in index)):
        return values, None
    wrapped = _HookIdentity.apply(*(values[i] for i in index), on_grads=on_grads,
                                  materialize=materialize)
    values = list(values)
    for i, t in zip(index, wrapped):
        values[i] = t
    return tuple(values), index


class BackwardHook:
    """The backward hooks of one call of ``module`` (see the module docstring)."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.input_index = None
        self.n_inputs = 0

    @staticmethod
    def _pack(index, grads, n):
        out = [None] * n
        for i, g in zip(index, grads):
            out[i] = g
        return tuple(out)

    def setup_inputs(self, args):
        self.n_inputs = len(args)
        args, self.input_index = _wrap(tuple(args), self._on_input_grads, True)
        return args

    def setup_outputs(self, result):
        single = not isinstance(result, tuple)
        values = (result,) if single else result
        self.n_outputs = len(values)
        values, self.output_index = _wrap(values, self._on_output_grads, False)
        return values[0] if single else values

    def _on_output_grads(self, grads):
        self.grad_outputs = self._pack(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, self.grad_outputs)
            if result is None:
                continue
            if len(result) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(result)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = tuple(result)
        passed = tuple(self.grad_outputs[i] for i in self.output_index)
        if self.input_index is None:
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients.",
                              stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                result = hook(self.module, grad_inputs, self.grad_outputs)
                if result is not None and not (isinstance(result, tuple)
                                               and all(r is None for r in result)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return passed

    def _on_input_grads(self, grads):
        if self.grad_outputs is None:
            return grads
        grad_inputs = self._pack(self.input_index, grads, self.n_inputs)
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is None:
                continue
            if len(result) != len(grad_inputs):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(result)}, but expected {len(grad_inputs)}")
            grad_inputs = tuple(result)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_index)
