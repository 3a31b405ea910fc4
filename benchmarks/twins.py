"""The same model and inputs in both frameworks, for side-by-side benchmarks."""
from __future__ import annotations

import torch

import tinygrad_cv as tg
from tinygrad_cv import backend


def copy_torch_weights(ours, theirs, device="cpu"):
    """Load ``theirs``' (torch) state dict into ``ours`` on ``device``; returns ``ours``."""
    ours.to(device)
    ours.load_state_dict({k: backend.to_device(v.detach().cpu().numpy(), device)
                          for k, v in theirs.state_dict().items()})
    return ours


def twin_inputs(x, device="cpu", requires_grad=True):
    """``x`` (a NumPy array) as (ours, torch's) tensors on ``device``."""
    return (tg.tensor(x, device=device, requires_grad=requires_grad),
            torch.tensor(x, device=device, requires_grad=requires_grad))
