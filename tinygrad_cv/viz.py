"""Draw the autograd tape as a Graphviz graph.

    from tinygrad_cv.viz import draw_graph
    loss = model(x).log_softmax(-1).mean()
    dot = draw_graph(loss, params=model)      # before loss.backward()
    dot.render("graph", format="svg")         # needs the Graphviz ``dot`` program
    print(dot.source)                         # always works

Op nodes (boxes) are the ``Function`` that produced a tensor, labelled with its class name;
tensor nodes (ellipses) show shape and dtype; leaf tensors that require grad are filled, and
named when ``params`` maps names to them.  Edges run from inputs to ops to outputs.
"""
from __future__ import annotations

from . import backend
from .tensor import Tensor

__all__ = ["draw_graph"]


def _param_names(params):
    """``id(tensor) -> name`` from a Module (``named_parameters``) or a dict name -> Tensor."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
        if hasattr(params, "named_buffers"):
            items += list(params.named_buffers())
    else:
        items = list(dict(params).items())
    return {id(t): name for name, t in items if isinstance(t, Tensor)}


def _short(array, limit=6):
    values = backend.to_numpy(array).reshape(-1)
    text = ", ".join(f"{float(v):.4g}" for v in values[:limit])
    return f"[{text}{', ...' if values.size > limit else ''}]"


def draw_graph(tensor, show_shapes=True, show_data=False, params=None, show_grad=False):
    """A ``graphviz.Digraph`` of the graph that produced ``tensor`` (or a list of tensors).

    - ``show_shapes``: label tensors with shape and dtype.
    - ``show_data``: add the first few values of each tensor.
    - ``params``: a Module or a dict ``name -> Tensor``; those tensors are labelled by name.
    - ``show_grad``: add the shape (and, with ``show_data``, values) of ``.grad`` where set.

    Draw before ``backward()``: a backward pass without ``retain_graph=True`` releases the
    graph (each op forgets its inputs), after which only the output tensor remains.
    The walk is iterative, so graphs of any depth are drawn.
    """
    import graphviz

    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    names = _param_names(params)
    dot = graphviz.Digraph("autograd", graph_attr={"rankdir": "TB"},
                           node_attr={"fontname": "Helvetica", "fontsize": "10"})
    seen_tensors, seen_ops = set(), set()

    def tensor_node(t):
        key = f"t{id(t)}"
        if id(t) in seen_tensors:
            return key
        seen_tensors.add(id(t))
        lines = []
        name = names.get(id(t)) or t.name
        if name:
            lines.append(str(name))
        if show_shapes:
            lines.append(f"{tuple(t.shape)} {t.dtype}")
        if show_data:
            lines.append(_short(t.array))
        if show_grad and t.grad is not None:
            lines.append(f"grad {tuple(t.grad.shape)}" + (f" {_short(t.grad.array)}"
                                                         if show_data else ""))
        leaf = t.creator is None
        attrs = {"shape": "ellipse"}
        if leaf and t.requires_grad:
            attrs.update(style="filled", fillcolor="lightblue")
            lines.append("leaf")
        elif leaf:
            attrs.update(style="dashed")
            lines.append("constant")
        dot.node(key, "\n".join(lines) or " ", **attrs)
        return key

    stack = []
    for t in roots:
        tensor_node(t)
        if t.creator is not None:
            stack.append(t.creator)
    while stack:
        op = stack.pop()
        if id(op) in seen_ops:
            continue
        seen_ops.add(id(op))
        op_key = f"f{id(op)}"
        dot.node(op_key, type(op).__name__, shape="box", style="filled", fillcolor="lightgray")
        for ref in getattr(op, "outputs", ()):
            out = ref()
            if out is not None:
                dot.edge(op_key, tensor_node(out))
        for x in getattr(op, "inputs", ()):
            if not isinstance(x, Tensor):
                continue
            dot.edge(tensor_node(x), op_key)
            if x.creator is not None and id(x.creator) not in seen_ops:
                stack.append(x.creator)
    return dot
