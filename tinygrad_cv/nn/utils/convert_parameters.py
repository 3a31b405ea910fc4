"""torch.nn.utils' parameters_to_vector / vector_to_parameters."""
from __future__ import annotations

from ...tensor import Tensor, cat


def _same_device(params):
    params = list(params)
    devices = {str(p.device) for p in params}
    if len(devices) > 1:
        raise TypeError(f"Found two parameters on different devices, this is currently not "
                        f"supported ({sorted(devices)})")
    return params


def parameters_to_vector(parameters):
    """One 1-D Tensor of every parameter flattened, in order (differentiable: a cat of views)."""
    params = _same_device(parameters)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Point each parameter's data at its slice of ``vec`` (in order; the parameters then share
    ``vec``'s memory, as torch's ``param.data = ...``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    params = _same_device(parameters)
    needed = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() < needed:
        raise RuntimeError(f"vector_to_parameters: expected a 1-D vector of at least {needed} "
                           f"entries, got shape {tuple(vec.shape)}")
    pointer = 0
    for p in params:
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
