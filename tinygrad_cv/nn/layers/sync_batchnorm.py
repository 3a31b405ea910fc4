"""``SyncBatchNorm``: batch normalisation over the batch of every data-parallel process.

``SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
process_group=None, device=None, dtype=None, *, bias=True)``: torch's parameters, buffers,
state_dict keys and repr (those of the BatchNorm layers), for inputs (N, C, *) of any rank
>= 2.

* In training, with ``tinygrad_cv.distributed`` initialised over more than one rank, the
  mean and variance are those of all ranks' batches together (``functional.sync_batch_norm``:
  forward and backward equal BatchNorm on the concatenated batch; the weight and bias
  gradients are each rank's share, which data-parallel training averages).  Every rank must
  call it (the statistics travel by all-reduce), in the same order.
* Otherwise (evaluation, no process group, one rank) it is BatchNorm, as torch's.

torch syncs only GPU tensors (it raises for CPU inputs once a process group exists); here the
MPI backend syncs CPU tensors too.  ``process_group`` must be None (the default group of all
ranks): the distributed package has no subgroups.

``SyncBatchNorm.convert_sync_batchnorm(module, process_group=None)`` returns ``module`` with
every BatchNorm1d/2d/3d (itself included) replaced by a SyncBatchNorm holding the same
parameters and buffers (the same tensor objects) and training flag, as torch's.
"""
from __future__ import annotations

from ... import backend
from ...distributed import process_group as dist
from ...tensor import Tensor
from ..functional.sync_batch_norm import sync_batch_norm
from ..uninitialized import is_lazy
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _check_group(process_group):
    if process_group is not None:
        raise NotImplementedError("SyncBatchNorm: process subgroups are not supported: pass "
                                  "process_group=None (the default group of all ranks)")


def _all_reduce_sum(array):
    dist.all_reduce(Tensor.wrap(array))


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *) whose training statistics span every rank (module docstring)."""

    _layout = "(N, C, *)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        _check_group(process_group)
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)
        self.process_group = process_group

    def _check(self, x):
        if x.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {x.ndim}D input)")
        if x.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        if x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected input of shape (N, {self.num_features}, "
                             f"*) (num_features={self.num_features}), got shape "
                             f"{tuple(x.shape)}")

    def _syncs(self):
        return self.training and dist.is_initialized() and dist.get_world_size() > 1

    def forward(self, input):
        if not self._syncs():
            return super().forward(input)
        self._check(input)
        factor = 0.0 if self.momentum is None else float(self.momentum)
        if self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.array = backend.ensure_array(nbt.array + 1)
            if self.momentum is None:
                factor = 1.0 / float(nbt.array)
        track = self.track_running_stats
        return sync_batch_norm(input, self.running_mean if track else None,
                               self.running_var if track else None, self.weight, self.bias,
                               factor, self.eps, _all_reduce_sum)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with each BatchNorm (1d/2d/3d) replaced by a SyncBatchNorm sharing its
        parameters, buffers and training flag (the module itself when it is one)."""
        _check_group(process_group)
        out = module
        if isinstance(module, _BatchNorm):
            if any(is_lazy(t) for t in list(module._parameters.values())
                   + list(module._buffers.values())):
                raise ValueError(f"convert_sync_batchnorm: {type(module).__name__} has not been "
                                 f"initialised yet; run a forward pass (a dummy batch) first")
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group,
                      bias=module.bias is not None)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
