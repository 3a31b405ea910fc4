"""``DistributedDataParallel``: data-parallel training of a module over the default group.

    model = DistributedDataParallel(Net(), bucket_mb=25)   # parameters := rank 0's
    loss = loss_fn(model(x_local), y_local)                # each rank: its part of the batch
    loss.backward()                                        # grads := mean over ranks
    optimizer.step()                                       # identical update on every rank

Gradient averaging.  The trainable parameters are split, in reverse registration order (the
order their gradients usually become final), into buckets of at most ``bucket_mb`` MiB of one
dtype.  A gradient hook on each parameter copies its gradient of this backward pass (plus
what ``.grad`` already held, so gradients accumulated under ``no_sync()`` are included) into
its slot of the bucket's flat buffer and hands the engine a view of that slot as the new
``.grad``.  When every slot of a bucket is filled the bucket is summed over the ranks with one
``all_reduce`` and scaled by ``1 / world_size`` in place, so the views become the averages:
a step sends one message per bucket, not one per parameter.  Buckets are reduced strictly in
bucket order on every rank (a bucket that fills early waits for the ones before it), so the
ranks always issue the same sequence of collectives.

The engine runs leaf-gradient hooks once the whole backward pass has been computed
(``autograd/engine.py``), so the reductions follow the pass rather than overlap it; see the
README's measurements for what this costs.

Every parameter that requires grad must receive a gradient in each synchronised backward
pass (torch's ``find_unused_parameters=False``): a bucket left incomplete is reported at the
next forward.  Parameters and buffers are broadcast from rank 0 when the module is wrapped;
with ``broadcast_buffers`` (default, as torch) the buffers (BatchNorm's running statistics)
are broadcast from rank 0 at every forward in training mode, and ``sync_buffers()`` does it
on demand (e.g. at the end of an epoch, before evaluating).

``state_dict()`` keys carry the ``module.`` prefix, as torch's; save ``ddp.module.state_dict()``
for a checkpoint that loads into the bare module.
"""
from __future__ import annotations

import contextlib
import time

from .. import backend
from ..nn.module import Module
from ..tensor import Tensor
from . import process_group as pg

__all__ = ["DistributedDataParallel"]

_MIB = 1 << 20


class _Bucket:
    """Parameters of one dtype whose gradients travel in one flat message."""

    def __init__(self, params):
        self.params = params
        self.sizes = [p.array.size for p in params]
        self.offsets = [sum(self.sizes[:i]) for i in range(len(params))]
        self.total = sum(self.sizes)
        self.flat = None
        self.filled = 0

    def put(self, index, grad):
        """Copy ``grad`` into slot ``index``; returns the slot as an array of its shape."""
        if self.flat is None:
            xp = backend.get_array_module(grad)
            self.flat = xp.empty(self.total, dtype=self.params[0].array.dtype)
        start = self.offsets[index]
        view = self.flat[start:start + self.sizes[index]].reshape(grad.shape)
        view[...] = grad
        self.filled += 1
        return view

    @property
    def full(self):
        return self.filled == len(self.params)

    def reset(self):
        self.flat = None       # a new buffer next step: the .grad views of this one stay valid
        self.filled = 0


def _coalesced_broadcast(group, tensors, src=0):
    """Broadcast ``tensors`` from ``src`` with one message per dtype (flattened, written back)."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault((t.array.dtype.str, backend.device_of(t.array)), []).append(t)
    for same in by_dtype.values():
        xp = backend.get_array_module(same[0].array)
        flat = xp.concatenate([t.array.reshape(-1) for t in same])
        group.broadcast_(flat, src)
        start = 0
        for t in same:
            n = t.array.size
            t.array[...] = flat[start:start + n].reshape(t.array.shape)
            start += n


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the default process group.

    Args:
        module: the model (already on its device: CPU for ``mpi``, GPU for ``nccl``).
        bucket_mb: the largest bucket, in MiB (torch's ``bucket_cap_mb``, default 25).
        broadcast_buffers: broadcast the buffers from rank 0 at each training forward.
        bucket_cap_mb: torch's name for ``bucket_mb`` (either may be given).
        device_ids, output_device: accepted for torch compatibility (one device per process;
            must be None or a single device).

    Attributes: ``module`` (the wrapped model), ``comm_seconds`` (wall time spent in this
    wrapper's collectives so far: gradient reductions and buffer broadcasts).
    """

    def __init__(self, module, bucket_mb=25.0, broadcast_buffers=True, *, bucket_cap_mb=None,
                 device_ids=None, output_device=None, find_unused_parameters=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("DistributedDataParallel: one device per process (device_ids "
                             "must be None or hold a single device)")
        if find_unused_parameters:
            raise NotImplementedError("find_unused_parameters=True is not supported: every "
                                      "trainable parameter must get a gradient each step")
        if bucket_cap_mb is not None:
            bucket_mb = bucket_cap_mb
        bucket_mb = float(bucket_mb)
        if not bucket_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_mb must be positive, got "
                             f"{bucket_mb}")
        group = pg.default_group()
        self.module = module
        object.__setattr__(self, "_group", group)
        self.bucket_mb = bucket_mb
        self.broadcast_buffers = bool(broadcast_buffers)
        self.require_backward_grad_sync = True
        self.comm_seconds = 0.0
        if group.size > 1:
            _coalesced_broadcast(group, list(module.parameters()) + list(module.buffers()))
        object.__setattr__(self, "_buckets", self._make_buckets(module, bucket_mb * _MIB))
        self._next_bucket = 0
        self._handles = []
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                self._handles.append(p.register_hook(self._grad_hook(p, b, i)))

    @staticmethod
    def _make_buckets(module, cap_bytes):
        seen, params = set(), []
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        buckets, current, size, key = [], [], 0, None
        for p in reversed(params):
            nbytes = p.array.nbytes
            p_key = (p.array.dtype.str, backend.device_of(p.array))
            if current and (p_key != key or size + nbytes > cap_bytes):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += nbytes
            key = p_key
        if current:
            buckets.append(_Bucket(current))
        return buckets

    @property
    def bucket_sizes(self):
        """The number of parameters in each bucket, in reduction order."""
        return [len(b.params) for b in self._buckets]

    # ---- gradients ----------------------------------------------------------------------------
    def _grad_hook(self, param, b, i):
        def hook(grad):
            if not self.require_backward_grad_sync or self._group.size == 1:
                return None
            g = grad.array
            if param.grad is not None:      # accumulated locally (no_sync): reduce the total
                g = param.grad.array + g
                param.grad = None           # the engine then stores the averaged slot
            view = self._buckets[b].put(i, g)
            if self._buckets[b].full:
                self._reduce_ready_buckets()
            return Tensor.wrap(view)
        return hook

    def _reduce_ready_buckets(self):
        """Reduce the filled buckets from ``_next_bucket`` on, in order."""
        buckets = self._buckets
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].full:
            bucket = buckets[self._next_bucket]
            start = time.perf_counter()
            self._group.all_reduce_(bucket.flat, "sum")
            bucket.flat *= bucket.flat.dtype.type(1.0 / self._group.size)
            self.comm_seconds += time.perf_counter() - start
            bucket.reset()
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._next_bucket = 0

    def _check_previous_reduction(self):
        pending = [b for b in self._buckets if b.filled]
        if pending:
            missing = sum(len(b.params) - b.filled for b in pending)
            for b in self._buckets:
                b.reset()
            self._next_bucket = 0
            raise RuntimeError(
                "DistributedDataParallel: the previous backward pass left gradients "
                f"unreduced ({missing} trainable parameters got no gradient); every parameter "
                "that requires grad must take part in the loss (set requires_grad=False on "
                "the unused ones)")

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally; the first synchronised pass
        after it averages the accumulated total."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ---- forward and buffers ------------------------------------------------------------------
    def sync_buffers(self):
        """Broadcast the module's buffers (e.g. BatchNorm running statistics) from rank 0."""
        buffers = [b for b in self.module.buffers() if b is not None]
        if self._group.size > 1 and buffers:
            start = time.perf_counter()
            _coalesced_broadcast(self._group, buffers)
            self.comm_seconds += time.perf_counter() - start

    def forward(self, *args, **kwargs):
        self._check_previous_reduction()
        if self.broadcast_buffers and self.training:
            self.sync_buffers()
        return self.module(*args, **kwargs)

    def extra_repr(self):
        return f"world_size={self._group.size}, buckets={len(self._buckets)}"
