"""Record a model's forward pass on the tape and list its nodes in execution order.

The model runs once in eval mode with grad mode on and its floating inputs requiring grad,
so every ``Function`` that touches an input or a parameter is recorded as the ``creator`` of
its outputs (``autograd/function.py``).  The keyword arguments of each ``Fn.apply`` call
(stride, eps, axes, ...) are not all kept on the node, so during the trace ``Function.apply``
is wrapped to attach them as ``node.onnx_kwargs``; the wrapper is removed afterwards (it is
process-wide while the trace runs: nodes recorded by other threads meanwhile also keep their
keyword arguments, which changes nothing else).

Anything computed outside the tape (raw-array code, or ops on tensors that need no grad)
reaches the graph as a constant: its value at export time.
"""
from __future__ import annotations

import contextlib
import threading

from .. import backend
from ..autograd import enable_grad
from ..autograd.function import Function
from ..tensor import Tensor

_patch_lock = threading.Lock()


@contextlib.contextmanager
def kwargs_recorded():
    """Inside the block, each recorded node keeps the keyword arguments of its ``apply``."""
    with _patch_lock:
        original = Function.__dict__["apply"]
        apply = original.__func__

        def recording_apply(cls, *inputs, **kwargs):
            out = apply(cls, *inputs, **kwargs)
            for t in out if isinstance(out, tuple) else (out,):
                node = getattr(t, "creator", None)
                if node is not None and "onnx_kwargs" not in node.__dict__:
                    node.onnx_kwargs = kwargs
            return out

        Function.apply = classmethod(recording_apply)
        try:
            yield
        finally:
            Function.apply = original


@contextlib.contextmanager
def eval_mode(model):
    """``model`` (and every sub-module) in eval mode inside the block, restored after."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    before = [m.training for m in modules]
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        for m, flag in zip(modules, before):
            object.__setattr__(m, "training", flag)


def traced_inputs(args):
    """``args`` with each Tensor (also inside tuples/lists) replaced by a fresh tensor sharing
    its array (floating ones require grad, so that what depends on them is recorded), and the
    list of those tensors in order (the graph's inputs)."""
    found = []

    def swap(a):
        if isinstance(a, Tensor):
            t = Tensor.wrap(a.array)
            if backend.is_floating(a.array.dtype):
                t.requires_grad = True
            found.append(t)
            return t
        if isinstance(a, (tuple, list)):
            return type(a)(swap(v) for v in a)
        return a

    return [swap(a) for a in args], found


def run(model, inputs, kwargs):
    """The model's outputs on ``inputs``, recorded with their keyword arguments."""
    with eval_mode(model), enable_grad(), kwargs_recorded():
        return model(*inputs, **kwargs)


def topological_nodes(outputs):
    """The recorded nodes the ``outputs`` depend on, each after the nodes it reads."""
    order, seen = [], set()
    stack = [(t.creator, False) for t in reversed(outputs) if t.creator is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for x in reversed(getattr(node, "inputs", ())):
            if isinstance(x, Tensor) and x.creator is not None and id(x.creator) not in seen:
                stack.append((x.creator, False))
    return order


def node_outputs(node):
    """The output Tensors of ``node`` (alive while the graph that reads them is)."""
    return [ref() for ref in node.outputs]
