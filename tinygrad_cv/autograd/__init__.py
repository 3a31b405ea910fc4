"""Reverse-mode automatic differentiation: the grad modes (``mode``), the Function contract
(``function``), the engine with ``grad`` and ``backward`` (``engine``) and Jacobians/Hessians
(``functional``).  This file only gathers their public names.

``grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None)`` returns
d(outputs)/d(inputs) without touching ``.grad``; with ``create_graph=True`` the result is itself
differentiable (higher-order gradients, gradient penalties, Hessians).
"""
from .mode import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled,  # noqa: F401
                   is_grad_enabled, is_inference_mode_enabled, no_grad, set_detect_anomaly,
                   set_grad_enabled)
from . import grad_mode, anomaly_mode  # noqa: F401  (torch's module names)
from .variable import Variable  # noqa: F401
from .torch_function import Function  # noqa: F401  (torch's contract)
from .function import once_differentiable  # noqa: F401
from .engine import backward, grad  # noqa: F401
from . import functional  # noqa: F401
from . import graph  # noqa: F401
from . import profiler  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401,E402  (torch's signatures)
