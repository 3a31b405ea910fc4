"""``export(model, args, f, ...)``: torch.onnx.export's tracing exporter, on the tape."""
from __future__ import annotations

import os
import warnings

from .. import backend
from ..tensor import Tensor
from . import trace
from .converters import CONVERTERS, Call, UnsupportedOperatorError
from .graph import GraphBuilder, onnx_dtype

DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(13, 22)


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("tinygrad_cv.onnx.export needs the onnx package: pip install "
                          "'tinygrad_cv[onnx]' (or pip install onnx)") from None
    return onnx


def _check_options(export_params, training, keep_initializers_as_inputs, opset_version,
                   unsupported):
    if unsupported:
        raise TypeError(f"onnx.export: unsupported arguments {sorted(unsupported)}")
    if not export_params:
        raise NotImplementedError("onnx.export: export_params=False is not supported (the "
                                  "weights are always stored in the graph)")
    if training is not None and str(training).rsplit(".", 1)[-1].upper() not in ("EVAL",
                                                                                 "FALSE"):
        raise NotImplementedError(f"onnx.export: training={training!r} is not supported (the "
                                  "model is exported in eval mode)")
    if keep_initializers_as_inputs:
        raise NotImplementedError("onnx.export: keep_initializers_as_inputs=True is not "
                                  "supported")
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    if not isinstance(opset, int) or opset not in SUPPORTED_OPSETS:
        raise ValueError(f"onnx.export: opset_version {opset_version!r} is not supported "
                         f"(supported: {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1})")
    return opset


def _split_args(args, kwargs):
    """(positional args, keyword args) as torch reads ``args``: a Tensor, or a tuple whose
    last element may be a dict of keyword arguments."""
    if isinstance(args, Tensor):
        return [args], dict(kwargs or {})
    args = list(args) if isinstance(args, (tuple, list)) else [args]
    kw = dict(kwargs or {})
    if args and isinstance(args[-1], dict):
        kw.update(args.pop())
    return args, kw


def _axes_spec(spec, name, ndim):
    """{axis: symbolic name} from dynamic_axes' ``{0: 'batch'}`` or ``[0]`` form."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        out = {int(a): str(n) for a, n in spec.items()}
    else:
        out = {int(a): f"{name}_dynamic_axes_{int(a) + 1}" for a in spec}
    for a in out:
        if not -ndim <= a < ndim:
            raise ValueError(f"onnx.export: dynamic_axes for {name!r} names axis {a}, but it "
                             f"has {ndim} dimensions")
    return {a % ndim: n for a, n in out.items()}


def _value_info(onnx, name, array, axes):
    dims = [axes.get(i, int(s)) for i, s in enumerate(array.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx_dtype(array.dtype), dims)


def _flatten_outputs(out):
    """The output Tensors, nested tuples/lists flattened in order (as torch)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten_outputs(o)]
    raise TypeError(f"onnx.export: the model returned a {type(out).__name__}; only Tensors "
                    "and (nested) tuples/lists of them can be exported")


class _Exporter:
    """Turns the traced nodes into ONNX nodes, naming every value once."""

    def __init__(self, g, model, opset):
        self.g = g
        self.opset = opset
        self.produced = {}   # id(Tensor) -> name, for node outputs and graph inputs
        self.used = set()
        named = []
        if hasattr(model, "named_parameters"):
            named += list(model.named_parameters())
        if hasattr(model, "named_buffers"):
            named += [(n, b) for n, b in model.named_buffers() if b is not None]
        self.params = {id(t.array): (n, t.array) for n, t in named}

    def name_of(self, x, dtype):
        if x is None:
            return ""
        if isinstance(x, Tensor):
            name = self.produced.get(id(x))
            if name is not None:
                self.used.add(name)
                return name
            x = x.array
        if backend.is_array(x):
            name = self.g.known.get(id(x))
            if name is None and id(x) in self.params:
                pname, arr = self.params[id(x)]
                name = self.g.initializer(arr, pname)
                self.g.know(arr, name)
            name = name or self.g.param(x)
            self.used.add(name)
            return name
        return self.g.const(x, dtype)

    def convert(self, node):
        op = type(node).__name__
        converter = CONVERTERS.get(op)
        if converter is None:
            raise UnsupportedOperatorError(
                f"onnx.export: the operation {op} (recorded by {type(node).__module__}) has no "
                f"ONNX conversion; supported: {', '.join(sorted(CONVERTERS))}")
        if not hasattr(node, "inputs"):
            raise RuntimeError(f"onnx.export: the {op} node was already released by a backward "
                               "pass")
        outs = trace.node_outputs(node)
        out_arrays = [t.array if t is not None else None for t in outs]
        dtype = next(a.dtype for a in out_arrays if a is not None)
        in_arrays = [x.array if isinstance(x, Tensor) else x for x in node.inputs]
        names = [self.name_of(x, dtype) for x in node.inputs]
        kwargs = getattr(node, "onnx_kwargs", {}) or {}
        for key in ("running_mean", "running_var", "mask"):
            if backend.is_array(kwargs.get(key)):
                self.name_of(kwargs[key], dtype)   # buffers keep their state-dict names
        result = converter(Call(self.g, node, names, in_arrays, out_arrays, self.opset))
        results = result if isinstance(result, list) else [result]
        for t, name in zip(outs, results):
            if t is not None:
                self.produced[id(t)] = name


def export(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=False,
           training=None, input_names=None, output_names=None, opset_version=None,
           dynamic_axes=None, do_constant_folding=True, keep_initializers_as_inputs=None,
           dynamo=False, **unsupported):
    """Trace ``model(*args)`` on the tape and write it as an ONNX model to ``f``.

    ``args``: a Tensor or a tuple of arguments (a trailing dict holds keyword arguments, as
    torch's; the Tensors in them, also inside tuples/lists, are the graph's inputs); ``f``: a
    path (written atomically) or a binary file object.  The model runs once in eval mode;
    every recorded operation becomes ONNX nodes (see ``converters``), the parameters and
    buffers become initializers under their state-dict names.  ``input_names`` /
    ``output_names`` name the graph's inputs (the Tensor arguments, in order) and outputs
    (nested tuples flattened); ``dynamic_axes`` (``{'input': {0: 'batch'}}`` or
    ``{'input': [0]}``) makes those axes symbolic (reshapes then follow the runtime shape;
    constants computed outside the tape keep theirs).  ``opset_version``: 13-21 (default 17).
    An operation with no conversion raises ``UnsupportedOperatorError`` naming it.  Values
    computed outside the tape (raw-array code) are constants of the graph, and an input they
    come from is reported by a warning.  ``do_constant_folding`` and ``dynamo`` are accepted
    and have no effect (a trace of the tape is already folded).  Returns the
    ``onnx.ModelProto``.
    """
    onnx = _require_onnx()
    opset = _check_options(export_params, training, keep_initializers_as_inputs,
                           opset_version, unsupported)
    if f is None:
        raise TypeError("onnx.export: f (a path or a binary file object) is required")
    args, kw = _split_args(args, kwargs)
    inputs, tensor_inputs = trace.traced_inputs(args)
    input_names = list(input_names or [])
    if len(input_names) > len(tensor_inputs):
        raise ValueError(f"onnx.export: {len(input_names)} input_names for "
                         f"{len(tensor_inputs)} tensor inputs")
    input_names += [f"input_{i}" for i in range(len(input_names), len(tensor_inputs))]
    outputs = _flatten_outputs(trace.run(model, inputs, kw))
    output_names = list(output_names or [])
    if len(output_names) > len(outputs):
        raise ValueError(f"onnx.export: {len(output_names)} output_names for {len(outputs)} "
                         "outputs")
    output_names += [f"output_{i}" for i in range(len(output_names), len(outputs))]
    dynamic_axes = dict(dynamic_axes or {})
    unknown = set(dynamic_axes) - set(input_names) - set(output_names)
    if unknown:
        raise ValueError(f"onnx.export: dynamic_axes names {sorted(unknown)}, which are not "
                         "input or output names")

    g = GraphBuilder(dynamic=bool(dynamic_axes))
    ex = _Exporter(g, model, opset)
    for name, t in zip(input_names, tensor_inputs):
        g.names.add(name)
        g.know(t.array, name)
        ex.produced[id(t)] = name
    for name in output_names:
        g.names.add(name)
    for node in trace.topological_nodes(outputs):
        ex.convert(node)
    for name, t in zip(output_names, outputs):
        g.node("Identity", [ex.name_of(t, t.array.dtype)], outputs=[name])
    for name in input_names:
        if name not in ex.used:
            warnings.warn(f"onnx.export: input {name!r} does not reach the outputs through "
                          "recorded operations (it is unused, or used only by code outside "
                          "the tape, whose result is a constant of the graph)", stacklevel=2)

    read = {name for node in g.nodes for name in node.input}
    initializers = [i for i in g.initializers if i.name in read]  # e.g. reordered RNN weights
    graph = onnx.helper.make_graph(
        g.nodes, getattr(model, "__class__", type(model)).__name__,
        [_value_info(onnx, n, t.array, _axes_spec(dynamic_axes.get(n), n, t.array.ndim))
         for n, t in zip(input_names, tensor_inputs)],
        [_value_info(onnx, n, t.array, _axes_spec(dynamic_axes.get(n), n, t.array.ndim))
         for n, t in zip(output_names, outputs)],
        initializer=initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="tinygrad_cv",
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        from ..io import atomic_write
        atomic_write(os.fspath(f), [data])
    return proto
