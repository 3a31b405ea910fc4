"""An ONNX graph under construction: value names, nodes, initializers and constants."""
from __future__ import annotations

import itertools

from .. import backend

ONNX_DTYPES = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "FLOAT16", "int64": "INT64",
               "int32": "INT32", "int16": "INT16", "int8": "INT8", "uint8": "UINT8",
               "bool": "BOOL"}


def onnx_dtype(dtype):
    """The ``onnx.TensorProto`` code of a backend dtype."""
    import onnx
    name = backend.dtype(dtype).name
    if name not in ONNX_DTYPES:
        raise TypeError(f"onnx.export: dtype {name} has no ONNX equivalent here")
    return getattr(onnx.TensorProto, ONNX_DTYPES[name])


class GraphBuilder:
    """Collects nodes and initializers; every value gets a unique name."""

    def __init__(self, dynamic):
        import onnx
        self.onnx = onnx
        self.nodes = []
        self.initializers = []
        self.names = set()
        self.counter = itertools.count()
        self.dynamic = dynamic   # whether some input has a symbolic (dynamic) axis
        self.known = {}          # id(array) -> name: graph inputs, parameters, buffers
        self.alive = []          # keeps the arrays of ``known`` alive (their ids stay unique)

    def fresh(self, hint):
        """A new unused value name derived from ``hint``."""
        hint = hint or "v"
        name = hint
        while name in self.names:
            name = f"{hint}_{next(self.counter)}"
        self.names.add(name)
        return name

    def node(self, op_type, inputs, n_outputs=1, outputs=None, **attrs):
        """Add a node; returns its output name (or the list of them when ``n_outputs`` > 1)."""
        outputs = outputs or [self.fresh(f"{op_type}_out") for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), list(outputs),
                                                     name=self.fresh(op_type), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def initializer(self, array, name):
        """Store the host copy of ``array`` under (a fresh name derived from) ``name``."""
        from onnx import numpy_helper
        name = self.fresh(name)
        host = backend.to_numpy(array)
        self.initializers.append(numpy_helper.from_array(host.copy(order="C"), name))
        return name

    def know(self, array, name):
        """``array`` (a graph input's or a parameter's) is the value ``name``."""
        self.known[id(array)] = name
        self.alive.append(array)

    def param(self, array):
        """The name of ``array``: a known input/parameter/buffer, else a new initializer."""
        name = self.known.get(id(array))
        if name is None:
            name = self.initializer(array, "const")
            self.know(array, name)
        return name

    def const(self, value, dtype):
        """A constant initializer holding ``value`` (scalar or array) as ``dtype``."""
        xp = backend.module_for_device("cpu")
        arr = xp.asarray(backend.to_numpy(value) if backend.is_array(value) else value,
                         dtype=backend.dtype(dtype))
        return self.initializer(arr, "const")

    def ints(self, values):
        """A constant int64 1-D tensor (shapes, axes, pads)."""
        return self.const([int(v) for v in values], "int64")
