"""The ``Optimizer`` base class: parameter groups, per-parameter state, state_dict.

Subclasses implement ``_update(param, grad, state, group)``, which changes ``param.array``
in place from the raw gradient array ``grad`` (vectorised over the whole array) using the
hyper-parameters of ``group``.  ``step()`` calls it for every parameter whose ``.grad`` is
set; no autograd graph is recorded.

Or they implement ``_kernel`` (Adam, AdamW, SGD): the per-parameter bookkeeping, then an
``update(start, stop)`` of a flat range of elements.  ``step()`` collects the kernels of all
parameters and splits their elements over the intra-op threads (``_run_kernels``): the
parameters' elements are taken as one long array cut into equal ranges, so a large weight is
shared by the threads and small biases go together.

``state_dict()`` has torch's layout::

    {'state': {index: {'step': 3, 'exp_avg': Tensor, ...}},
     'param_groups': [{'lr': 0.1, ..., 'params': [0, 1, 2]}, ...]}

where ``index`` numbers the parameters across the groups in order.

Hooks (torch's): ``register_step_pre_hook``/``register_step_post_hook`` (and the global
``register_optimizer_step_pre_hook``/``post_hook`` for every optimizer), the state-dict and
load-state-dict pre/post hooks.  Every class's own ``step``, ``state_dict`` and
``load_state_dict`` is wrapped (``__init_subclass__``) to run them around its outermost call.
The hooks live beside the optimizer (``_instance_hooks``), not in its ``__dict__``: saving,
copying or pickling an optimizer leaves them behind, as torch's ``__getstate__`` does.
"""
from __future__ import annotations

import collections
import collections.abc
import contextlib
import copy
import functools
import numbers
import threading
import weakref

from .. import backend, threads
from ..arguments import to_host_array
from ..autograd import enable_grad
from ..autograd.versions import bump_version
from ..nn.module import RemovableHandle
from ..ops.elementwise import elementwise_work
from ..tensor import Tensor


class _Required:
    """Marks a hyper-parameter with no default (it must be given)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def check_nonnegative(name, value):
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a number >= 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value!r} (expected a number >= 0)")


def is_tensor_lr(value):
    """``value`` is a learning rate given as a Tensor (torch's ``lr=torch.tensor(0.01)``)."""
    return isinstance(value, Tensor)


def value_of(lr):
    """A learning rate (a number or a 1-element Tensor) as a Python float."""
    return float(lr.reshape(-1)[0].item()) if is_tensor_lr(lr) else float(lr)


def lr_operand(lr, fused=False):
    """The learning rate for a step's scalar formulas (``lr / (1 - beta1^t)``,
    ``1 - lr * weight_decay``): a Python float, or for a Tensor lr a 0-d host array of its
    dtype, so that the formulas round in that dtype as torch's Tensor arithmetic does (a
    float32 lr with float64 parameters); ``float()`` a formula's result for the array update.
    ``fused``: torch's fused kernels read a Tensor lr as a double, so a float here too."""
    if is_tensor_lr(lr) and not fused:
        return to_host_array(lr).reshape(())
    return float(lr)


def native_value(value):
    """A torch Tensor met in a state dict of torch's (a Tensor lr, a scheduler's base_lrs) as a
    Tensor of ours; any other value unchanged."""
    if _is_tensor_like(value) and not isinstance(value, Tensor) and not backend.is_array(value):
        return Tensor.wrap(backend.as_array(to_host_array(value), copy=True))
    return value


def check_learning_rate(lr):
    """Raise ``ValueError`` unless ``lr`` is a number >= 0 or a 1-element Tensor holding one
    (torch's "Tensor lr must be 1-element")."""
    if is_tensor_lr(lr):
        if lr.numel() != 1:
            raise ValueError(f"Tensor lr must be 1-element, got a Tensor of shape "
                             f"{tuple(lr.shape)}")
        lr = value_of(lr)
    check_nonnegative("learning rate", lr)


def check_beta(name, value):
    """Raise ``ValueError`` naming ``name`` unless 0 <= ``value`` < 1."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value!r} (expected 0 <= {name} < 1)")


def check_supported_modes(name, group):
    """Raise ``NotImplementedError`` for torch's modes this framework does not have:
    ``capturable=True`` (CUDA graphs) and ``differentiable=True`` (autograd through the step).
    ``foreach`` and ``fused`` only pick torch's kernel; they are kept and change nothing."""
    if group.get("capturable"):
        raise NotImplementedError(f"{name}: capturable=True (CUDA graphs) is not supported")
    if group.get("differentiable"):
        raise NotImplementedError(f"{name}: differentiable=True (autograd through the step) is "
                                  "not supported")


def _to_array(value, like):
    """A fresh array of ``value`` (Tensor, array or torch tensor) with ``like``'s dtype/device."""
    arr = backend.as_array(to_host_array(value), device=backend.device_of(like))
    return arr.astype(like.dtype, copy=True)


def _is_tensor_like(value):
    return (isinstance(value, Tensor) or backend.is_array(value)
            or (hasattr(value, "detach") and hasattr(value, "shape")))


# Passes over memory of one element's update (Adam's: about a dozen) that ``_run_kernels``
# weighs against the hand-off of a split.
UPDATE_PASSES = 12


def flat_pieces(arrays, start, stop, size):
    """The arrays themselves for the whole range (0, size), else their flat elements
    [start, stop) (views: the arrays are C-contiguous).  A 0-d array (a scalar parameter) comes
    as a 1-element view: NumPy returns scalars for 0-d results, which ``out=`` cannot take."""
    if start == 0 and stop == size:
        if all(a.ndim for a in arrays):
            return arrays
        return tuple(a if a.ndim else a.reshape(1) for a in arrays)
    return tuple(a.reshape(-1)[start:stop] for a in arrays)


def _run_kernels(kernels, like):
    """Run every ``(update, size, flat)`` kernel: the concatenation of the parameters' elements
    split over the intra-op threads in equal ranges (a flat parameter may be cut between two
    parts, any other goes whole to the part its first element falls in), each part running
    its pieces in order; serially, one whole update after the other, when one thread is
    usable."""
    total = sum(size for _, size, _ in kernels)
    parts = threads.usable(like, elementwise_work(total, UPDATE_PASSES))
    if parts <= 1:
        for update, size, _ in kernels:
            update(0, size)
        return
    ranges = threads.split(total, parts)
    pieces = [[] for _ in ranges]
    offset, which = 0, 0
    for update, size, flat in kernels:
        while which + 1 < len(ranges) and ranges[which][1] <= offset:
            which += 1
        if not flat or size == 0:
            pieces[which].append((update, 0, size))
        else:
            i = which
            while i < len(ranges) and ranges[i][0] < offset + size:
                start, stop = max(ranges[i][0], offset), min(ranges[i][1], offset + size)
                if stop > start:
                    pieces[i].append((update, start - offset, stop - offset))
                i += 1
        offset += size

    def part(own):
        for update, start, stop in own:
            update(start, stop)

    threads.run([lambda own=own: part(own) for own in pieces if own])


def _note_step(optimizer):
    """Record a call of ``optimizer.step()`` for the learning-rate schedulers watching it
    (``_opt_called``, set once a scheduler is built: torch's check that ``optimizer.step()``
    runs before ``scheduler.step()``)."""
    if "_opt_called" in optimizer.__dict__:
        optimizer._opt_called = True


# ---- hooks --------------------------------------------------------------------------------------
_global_optimizer_pre_hooks = collections.OrderedDict()
_global_optimizer_post_hooks = collections.OrderedDict()
_instance_hooks = weakref.WeakKeyDictionary()   # optimizer -> {kind: OrderedDict(id -> hook)}
_running = threading.local()                    # (id(optimizer), method) calls in progress


def register_optimizer_step_pre_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's ``step`` (before its own
    pre hooks); like those it may return new ``(args, kwargs)``.  Returns a
    ``RemovableHandle``."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's ``step`` (after its own
    post hooks).  Returns a ``RemovableHandle``."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _hooks(optimizer, kind):
    """The hooks of ``kind`` registered on ``optimizer``, in calling order (a snapshot)."""
    store = _instance_hooks.get(optimizer, {}).get(kind)
    return tuple(store.values()) if store else ()


def _register_hook(optimizer, kind, hook, prepend=False):
    store = _instance_hooks.setdefault(optimizer, {}).setdefault(kind, collections.OrderedDict())
    handle = RemovableHandle(store)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle


@contextlib.contextmanager
def _outermost(optimizer, method):
    """Yields True in the outermost call of ``method`` on ``optimizer`` (a subclass's method
    that calls ``super()``'s runs the hooks once), False in the nested ones."""
    active = _running.__dict__.setdefault("calls", set())
    key = (id(optimizer), method)
    if key in active:
        yield False
        return
    active.add(key)
    try:
        yield True
    finally:
        active.discard(key)


def _with_step_hooks(step):
    """``step`` that records its call (``_note_step``) and runs the global and own step hooks
    around it: pre hooks get ``(optimizer, args, kwargs)`` with ``args`` starting with the
    optimizer and may return new ``(args, kwargs)``; post hooks get the final ones."""
    @functools.wraps(step)
    def hooked_step(self, *args, **kwargs):
        _note_step(self)
        with _outermost(self, "step") as outer:
            if not outer:
                return step(self, *args, **kwargs)
            args = (self, *args)
            for hook in (*_global_optimizer_pre_hooks.values(), *_hooks(self, "step_pre")):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{step!r} must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            out = step(*args, **kwargs)
            for hook in (*_hooks(self, "step_post"), *_global_optimizer_post_hooks.values()):
                hook(self, args, kwargs)
            return out
    hooked_step._hooked = True
    return hooked_step


def _with_state_dict_hooks(state_dict):
    """``state_dict`` after its pre hooks ``hook(optimizer)``, through its post hooks
    ``hook(optimizer, state_dict)`` (a returned dict replaces it)."""
    @functools.wraps(state_dict)
    def hooked_state_dict(self, *args, **kwargs):
        with _outermost(self, "state_dict") as outer:
            if not outer:
                return state_dict(self, *args, **kwargs)
            for hook in _hooks(self, "state_dict_pre"):
                hook(self)
            out = state_dict(self, *args, **kwargs)
            for hook in _hooks(self, "state_dict_post"):
                result = hook(self, out)
                if result is not None:
                    out = result
            return out
    hooked_state_dict._hooked = True
    return hooked_state_dict


def _with_load_state_dict_hooks(load_state_dict):
    """``load_state_dict`` of a shallow copy of the dict passed through its pre hooks
    ``hook(optimizer, state_dict)`` (a returned dict replaces it), then its post hooks
    ``hook(optimizer)``."""
    @functools.wraps(load_state_dict)
    def hooked_load_state_dict(self, state_dict, *args, **kwargs):
        with _outermost(self, "load_state_dict") as outer:
            if not outer:
                return load_state_dict(self, state_dict, *args, **kwargs)
            if isinstance(state_dict, dict):
                state_dict = state_dict.copy()
            for hook in _hooks(self, "load_state_dict_pre"):
                result = hook(self, state_dict)
                if result is not None:
                    state_dict = result
            load_state_dict(self, state_dict, *args, **kwargs)
            for hook in _hooks(self, "load_state_dict_post"):
                hook(self)
    hooked_load_state_dict._hooked = True
    return hooked_load_state_dict


_HOOKED_METHODS = {"step": _with_step_hooks, "state_dict": _with_state_dict_hooks,
                   "load_state_dict": _with_load_state_dict_hooks}


def _wrap_hooked_methods(cls):
    """Wrap ``cls``'s own ``step``, ``state_dict`` and ``load_state_dict`` (once each)."""
    for name, wrap in _HOOKED_METHODS.items():
        method = cls.__dict__.get(name)
        if method is not None and not getattr(method, "_hooked", False):
            setattr(cls, name, wrap(method))


class StateView(collections.abc.MutableMapping):
    """``optimizer.state`` as torch's ``defaultdict(dict)``: ``state[p]`` of a parameter with
    no state yet is a new empty dict, stored (what optimizers written for torch rely on:
    ``state = self.state[p]; if len(state) == 0: ...``).  The optimizer keeps a plain dict
    (``__dict__['state']``, which saving stores); ``get``, ``in``, ``pop`` and ``setdefault``
    insert nothing of their own, as a defaultdict's."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    def __getitem__(self, param):
        try:
            return self.data[param]
        except KeyError:
            value = self.data[param] = {}
            return value

    def __setitem__(self, param, value):
        self.data[param] = value

    def __delitem__(self, param):
        del self.data[param]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)

    def __contains__(self, param):
        return param in self.data

    def get(self, param, default=None):
        return self.data.get(param, default)

    def setdefault(self, param, default=None):
        return self.data.setdefault(param, default)

    def pop(self, param, *default):
        return self.data.pop(param, *default)

    def __repr__(self):
        return repr(self.data)


class Optimizer:
    """Base class of the optimizers.

    ``params`` is an iterable of Tensors or of dicts (parameter groups) with a ``'params'``
    entry and per-group hyper-parameters that override ``defaults``.
    """

    @property
    def state(self):
        """Per-parameter state, ``{param: {name: value}}`` (a ``StateView``)."""
        try:
            return StateView(self.__dict__["state"])
        except KeyError:    # a subclass that skipped Optimizer.__init__ and never set it
            raise AttributeError(f"{type(self).__name__!r} object has no attribute "
                                 "'state'") from None

    @state.setter
    def state(self, value):
        if isinstance(value, StateView):
            value = value.data
        self.__dict__["state"] = value if type(value) is dict else dict(value)

    def __init_subclass__(cls, **kwargs):
        """A subclass's own ``step`` also records its calls (``_note_step``); its own ``step``,
        ``state_dict`` and ``load_state_dict`` run the hooks (``_wrap_hooked_methods``)."""
        super().__init_subclass__(**kwargs)
        _wrap_hooked_methods(cls)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or dicts, got a single "
                            "Tensor; pass [tensor] or model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    # ---- groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Append a group (dict with ``'params'``); missing hyper-parameters take defaults.

        ``'params'`` holds Tensors or ``(name, Tensor)`` pairs (``named_parameters()``); the
        names are kept as the group's ``'param_names'``, and all groups have names or none.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs; "
                            "use a list instead")
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names; some "
                                 "parameter names are missing")
            params = [p[1] for p in params]
            group["param_names"] = names
        if any(("param_names" in g) != ("param_names" in group) for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names; cannot "
                             f"add a param group {'with' if names else 'without'} names to the "
                             "optimizer")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but parameter "
                                f"{i} of the group is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor "
                                 f"(parameter {i} of the group has a grad_fn)")
            if not backend.is_floating(p.dtype):
                raise ValueError(f"{type(self).__name__} can only optimize floating-point "
                                 f"Tensors; parameter {i} has dtype {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter group contains the same "
                             "parameter more than once")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._validate_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             "parameter group")
        self.param_groups.append(group)

    def _validate_group(self, group):
        """Raise ``ValueError`` for an invalid hyper-parameter, ``NotImplementedError`` for a
        mode this framework does not have (``check_supported_modes``); subclasses extend."""
        check_supported_modes(type(self).__name__, group)
        if "lr" in group:           # an optimizer of one's own may have no learning rate
            check_learning_rate(group["lr"])

    # ---- hooks -------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """Run ``hook(optimizer, args, kwargs)`` before each ``step`` (``args`` starts with the
        optimizer); returning ``(new_args, new_kwargs)`` replaces them.  Returns a
        ``RemovableHandle``."""
        return _register_hook(self, "step_pre", hook)

    def register_step_post_hook(self, hook):
        """Run ``hook(optimizer, args, kwargs)`` after each ``step``.  Returns a
        ``RemovableHandle``."""
        return _register_hook(self, "step_post", hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Run ``hook(optimizer)`` before ``state_dict()`` (first of all with ``prepend``)."""
        return _register_hook(self, "state_dict_pre", hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Run ``hook(optimizer, state_dict)`` after ``state_dict()``; a returned dict is
        returned instead."""
        return _register_hook(self, "state_dict_post", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Run ``hook(optimizer, state_dict)`` on a shallow copy of the dict given to
        ``load_state_dict``; a returned dict is loaded instead."""
        return _register_hook(self, "load_state_dict_pre", hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Run ``hook(optimizer)`` after ``load_state_dict``."""
        return _register_hook(self, "load_state_dict_post", hook, prepend)

    # ---- stepping ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (``None``, or zeros in place, cut from any graph
        that ``backward(create_graph=True)`` built, as torch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.array[...] = 0
                    bump_version(p.grad)

    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        gradients enabled before the update and its value is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        updates = []
        states = self.__dict__["state"]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.array
                if grad.shape != p.array.shape:
                    raise RuntimeError(f"{type(self).__name__}.step: gradient of shape "
                                       f"{tuple(grad.shape)} for a parameter of shape "
                                       f"{p.array.shape}")
                state = states.setdefault(p, {})
                kernel = self._kernel(p, grad, state, group)
                if kernel is None:
                    self._update(p, grad, state, group)
                    bump_version(p)  # an in-place change of p, as torch counts it
                else:
                    updates.append((p, kernel))
        if updates:
            _run_kernels([kernel for _, kernel in updates], updates[0][0].array)
            for p, _ in updates:
                bump_version(p)
        return loss

    def _update(self, param, grad, state, group):
        """The update of one parameter, in place (optimizers without ``_kernel``)."""
        kernel = self._kernel(param, grad, state, group)
        if kernel is None:
            raise NotImplementedError
        update, size, _ = kernel
        update(0, size)

    def _kernel(self, param, grad, state, group):
        """``(update, size, flat)`` after this step's bookkeeping (step counts, new state
        buffers): ``update(start, stop)`` changes the flat elements [start, stop) of the
        parameter and its state (``flat_pieces``); ``flat``: the arrays are C-contiguous, so a
        range other than the whole (0, size) may be asked for.  None (the default): the
        optimizer implements ``_update`` instead."""
        return None

    @staticmethod
    def _state_buffer(state, name, param):
        """The state array ``name`` (zeros like ``param`` on first use), as a raw array."""
        t = state.get(name)
        if t is None:
            xp = backend.get_array_module(param.array)
            t = state[name] = Tensor.wrap(xp.zeros_like(param.array))
        return t.array

    # ---- state dict --------------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        State tensors are shared with the optimizer (like torch); ``tinygrad_cv.save``
        writes them out and ``load_state_dict`` copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state from ``state_dict`` (copies; validated first).

        Group sizes, state indices and state shapes are all checked before anything is
        written, so a mismatching dict raises ``ValueError`` and changes nothing.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved_groups)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        by_index = {}
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {gi} has "
                                 f"{len(saved['params'])} parameters in the loaded state dict "
                                 f"but {len(group['params'])} in the optimizer")
            for idx, p in zip(saved["params"], group["params"]):
                by_index[int(idx)] = p
        new_state = {}
        for key, pstate in state_dict["state"].items():
            try:
                idx = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}.load_state_dict: state key {key!r} is not a "
                                 "parameter index") from None
            if idx not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {idx}, "
                                 "which no parameter group lists")
            p = by_index[idx]
            converted = {}
            for k, v in pstate.items():
                if k == "step":
                    converted[k] = int(round(float(v.item() if hasattr(v, "item") else v)))
                elif _is_tensor_like(v):
                    if tuple(v.shape) != tuple(p.shape):
                        raise ValueError(f"{name}.load_state_dict: state '{k}' of parameter "
                                         f"{idx} has shape {tuple(v.shape)}, the parameter has "
                                         f"shape {tuple(p.shape)}")
                    converted[k] = Tensor.wrap(_to_array(v, p.array))
                else:
                    converted[k] = copy.deepcopy(v)
            new_state[p] = converted
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            g = {k: v for k, v in group.items() if k != "params"}
            g.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
            if isinstance(group.get("betas"), tuple) and isinstance(g.get("betas"), list):
                g["betas"] = tuple(g["betas"])
            for k, v in g.items():      # torch's Tensor hyper-parameters (lr, initial_lr)
                g[k] = native_value(v)
            g["params"] = group["params"]
            new_groups.append(g)
        for g in new_groups:
            self._validate_group(g)
        self.state = new_state
        self.param_groups[:] = new_groups


_wrap_hooked_methods(Optimizer)
