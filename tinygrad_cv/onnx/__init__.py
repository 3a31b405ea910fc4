"""ONNX export of models traced on the tape (``torch.onnx.export``'s names).

    import tinygrad_cv as torch
    torch.onnx.export(model, (x,), "model.onnx", input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})

Needs the ``onnx`` package (the ``onnx`` extra); it is imported only when ``export`` runs.
"""
from .converters import UnsupportedOperatorError  # noqa: F401
from .export import export  # noqa: F401

__all__ = ["export", "UnsupportedOperatorError"]
