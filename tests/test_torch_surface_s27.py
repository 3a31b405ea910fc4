"""More of torch's surface against torch itself: the ``*_copy`` and ``unsafe_*`` forms of the
views, top-level ``conv3d``/``conv_transpose3d``/``max_pool3d``/bit shifts/``vmap``/
``set_warn_always``, ``get/set_num_interop_threads`` (tests/test_threads.py), and the Tensor
methods ``output_nr``, ``is_set_to``, ``new_empty_strided``, ``ger``, ``apply_``, ``map_``,
``map2_``."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg

RNG = np.random.default_rng(0)

# name -> (args after the input, input shape)
VIEW_COPIES = {
    "alias_copy": ((), (2, 3)), "view_copy": (((3, 2),), (2, 3)),
    "permute_copy": (((2, 0, 1),), (2, 3, 4)), "transpose_copy": ((0, 2), (2, 3, 4)),
    "t_copy": ((), (3, 4)), "squeeze_copy": ((1,), (3, 1, 4)),
    "unsqueeze_copy": ((1,), (3, 4)), "expand_copy": (((3, 4, 5),), (4, 1)),
    "select_copy": ((1, 2), (3, 4)), "slice_copy": ((1, 1, 4, 2), (3, 5)),
    "diagonal_copy": ((1, 0, 1), (4, 5)), "unfold_copy": ((1, 2, 1), (3, 5)),
    "split_copy": ((2, 1), (3, 5)), "split_with_sizes_copy": (([1, 4], 1), (3, 5)),
    "unbind_copy": ((1,), (3, 2)), "unsafe_split": ((2,), (5, 2)),
    "unsafe_split_with_sizes": (([2, 3],), (5, 2)), "unsafe_chunk": ((2, 1), (3, 5)),
}


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("name", sorted(VIEW_COPIES))
def test_view_copies_match_torch_values_gradients_and_own_their_memory(name):
    args, shape = VIEW_COPIES[name]
    x = RNG.standard_normal(shape)
    results = []
    for lib in (torch, tg):
        t = lib.tensor(x, requires_grad=True)
        outs = _as_list(getattr(lib, name)(t, *args))
        weights = [lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)))
                   for o in outs]
        sum(((o * w).sum() for o, w in zip(outs, weights)), lib.tensor(0.0)).backward()
        contiguous = [o.is_contiguous() for o in outs]
        if name.endswith("_copy"):
            with lib.no_grad():
                for o in outs:
                    o.fill_(7.0)                   # a copy: the input does not change
            assert np.array_equal(t.detach().numpy(), x)
        results.append(([o.detach().numpy() for o in outs], t.grad.numpy(), contiguous,
                        type(getattr(lib, name)(t, *args)).__name__))
    (v0, g0, c0, k0), (v1, g1, c1, k1) = results
    assert len(v0) == len(v1) and c0 == c1 and k0 == k1
    for a, b in zip(v1, v0):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(g1, g0, rtol=1e-14, atol=1e-15)   # (sums in another order)


def test_unsafe_split_and_chunk_methods_match_torch():
    x = RNG.standard_normal((5, 4))
    for method, args in (("unsafe_split", (2,)), ("unsafe_chunk", (3, 1)),
                         ("unsafe_split_with_sizes", ([1, 3], 1))):
        ours = getattr(tg.tensor(x), method)(*args)
        theirs = getattr(torch.tensor(x), method)(*args)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_top_level_3d_layers_and_shifts_match_torch():
    x = RNG.standard_normal((2, 3, 5, 6, 4))
    w = RNG.standard_normal((4, 3, 2, 3, 2))
    wt = RNG.standard_normal((3, 2, 2, 2, 3))
    for lib_call in (lambda m, a: m.conv3d(a, m.tensor(w), None, 1, (1, 0, 1), 1, 1),
                     lambda m, a: m.conv_transpose3d(a, m.tensor(wt), None, 2, 1),
                     lambda m, a: m.max_pool3d(a, 2),
                     lambda m, a: m.max_pool3d(a, (2, 3, 2), (), 1, 1, True)):
        ours, theirs = lib_call(tg, tg.tensor(x)), lib_call(torch, torch.tensor(x))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)
    a, s = [1, -8, 300, 7], [1, 2, 3, 0]
    for name in ("bitwise_left_shift", "bitwise_right_shift"):
        assert getattr(tg, name)(tg.tensor(a), tg.tensor(s)).tolist() == \
            getattr(torch, name)(torch.tensor(a), torch.tensor(s)).tolist()


def test_top_level_vmap_matches_torch():
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    outs = []
    for lib in (torch, tg):
        fn = lib.vmap(lambda a, b: (a * b).sum().exp(), in_dims=(0, None))
        outs.append(fn(lib.tensor(x), lib.tensor(y)).numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)


def test_set_warn_always_is_recorded_as_torch():
    for lib in (torch, tg):
        assert lib.is_warn_always_enabled() is False
        lib.set_warn_always(True)
        assert lib.is_warn_always_enabled() is True
        lib.set_warn_always(False)


def test_output_nr_is_set_to_new_empty_strided_and_ger_match_torch():
    def probe(lib):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        values, indices = lib.tensor([[1.0, 3.0], [4.0, 2.0]], requires_grad=True).max(dim=1)
        x = lib.arange(12.0)
        e = lib.ones(2, 3, dtype=lib.float64).new_empty_strided((2, 3), (1, 2))
        return [a.output_nr, (a * 2).output_nr, values.output_nr, indices.output_nr,
                x.is_set_to(x), x.is_set_to(x.view(3, 4).view(12)), x.is_set_to(x[:]),
                x.is_set_to(x[1:]), x.is_set_to(x.clone()), x.view(3, 4).is_set_to(x),
                tuple(e.shape), e.stride(), str(e.dtype).replace("torch.", ""),
                lib.tensor([1.0, 2.0]).ger(lib.tensor([3.0, -1.0, 0.5])).tolist()]
    assert probe(tg) == probe(torch)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       dtype=st.sampled_from(["float64", "float32", "int64", "int32", "bool"]),
       data=st.data())
def test_apply_map_and_map2_match_torch(shape, dtype, data):
    x = RNG.standard_normal(shape) * 3
    bshape = data.draw(st.sampled_from([tuple(shape), tuple(shape[1:]), (1,) * len(shape)]))
    y, z = RNG.standard_normal(bshape) * 2, RNG.standard_normal(bshape)
    results = []
    for lib in (torch, tg):
        dt = getattr(lib, dtype)
        t = lib.tensor(x).to(dt)
        t.apply_(lambda v: v * 1.7 - 0.5)
        t.map_(lib.tensor(y).to(dt), lambda u, v: u - 2 * v)
        t.map2_(lib.tensor(y).to(dt), lib.tensor(z).to(dt), lambda u, v, w: u + v * w)
        results.append(t.tolist())
    assert results[0] == results[1]


def test_apply_and_map_errors_match_torch():
    for lib in (torch, tg):
        with pytest.raises(RuntimeError, match="requires grad"):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)
        with pytest.raises(TypeError, match="real number"):
            lib.ones(2).apply_(lambda v: "x")
        with pytest.raises(RuntimeError, match="expanded size"):
            lib.ones(2).map_(lib.ones(3), lambda u, v: u)
        with pytest.raises(TypeError, match="expected [a-z_]+.FloatTensor for 'other'"):
            lib.ones(2).map_(lib.ones(2, dtype=lib.float64), lambda u, v: u)
        with pytest.raises(TypeError, match="argument 'y'"):
            lib.ones(2).map2_(lib.ones(2), lib.ones(2, dtype=lib.int64), lambda u, v, w: u)
        with pytest.raises(TypeError, match="must be Tensor"):
            lib.ones(2).map_(3.0, lambda u, v: u)


@pytest.mark.parametrize("fmt", ["contiguous_format", "channels_last", "preserve_format"])
@pytest.mark.parametrize("source", ["contiguous", "channels_last"])
def test_clone_always_copies_and_to_takes_memory_format_as_torch(fmt, source):
    x = RNG.standard_normal((2, 3, 4, 5))
    seen = []
    for lib in (torch, tg):
        t = lib.tensor(x)
        if source == "channels_last":
            t = t.contiguous(memory_format=lib.channels_last)
        c = t.clone(memory_format=getattr(lib, fmt))
        with lib.no_grad():
            c.fill_(0.0)                  # the clone owns its memory
        moved = t.to(memory_format=getattr(lib, fmt))
        cast = t.to(lib.float32, memory_format=getattr(lib, fmt))
        seen.append((float(t.sum()), c.stride(), moved is t, moved.stride(), cast.stride(),
                     t.cpu(memory_format=getattr(lib, fmt)).stride()))
    assert seen[0][1:] == seen[1][1:]
    np.testing.assert_allclose(seen[1][0], seen[0][0], rtol=1e-12)


def test_variable_set_detect_anomaly_and_mode_modules_as_torch():
    def probe(lib):
        from importlib import import_module
        Variable = lib.autograd.Variable
        t = lib.ones(2)
        v = Variable(t, requires_grad=True)
        out = [v is t, v.requires_grad, t.requires_grad, isinstance(t, Variable),
               isinstance(3.0, Variable), Variable(t) is t]
        try:
            Variable([1.0])
        except TypeError as exc:
            out.append(str(exc))
        states = [lib.is_anomaly_enabled()]
        lib.autograd.set_detect_anomaly(True)
        states.append(lib.is_anomaly_enabled())
        with lib.autograd.set_detect_anomaly(False):
            states.append(lib.is_anomaly_enabled())
        states.append(lib.is_anomaly_enabled())
        lib.autograd.set_detect_anomaly(True, check_nan=False)
        states += [lib.is_anomaly_check_nan_enabled()]
        lib.autograd.set_detect_anomaly(False)
        states.append(lib.is_anomaly_enabled())
        name = lib.__name__
        modules = [hasattr(import_module(f"{name}.autograd.grad_mode"), n)
                   for n in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode")]
        modules += [hasattr(import_module(f"{name}.autograd.anomaly_mode"), n)
                    for n in ("detect_anomaly", "set_detect_anomaly")]
        return out, states, modules
    assert probe(tg) == probe(torch)


def _warning_texts(call):
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.category.__name__, str(w.message)) for w in caught]


def test_init_dirac_sparse_and_deprecated_names_as_torch():
    for shape, groups in (((4, 3, 5), 1), ((6, 4, 3, 3), 2), ((3, 5, 3, 2, 3), 3),
                          ((2, 7, 3, 3), 1)):
        ours, theirs = tg.empty(*shape), torch.empty(*shape)
        tg.nn.init.dirac_(ours, groups)
        torch.nn.init.dirac_(theirs, groups)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for lib in (torch, tg):
        w = lib.empty(10, 6)
        lib.nn.init.sparse_(w, 0.35, std=0.5)
        zeros = (w == 0).sum(0).tolist()
        assert zeros == [4] * 6                              # ceil(0.35 * 10) per column
        with pytest.raises(ValueError, match="2 dimensions"):
            lib.nn.init.sparse_(lib.empty(2, 3, 4), 0.1)
        with pytest.raises(ValueError, match="divisible by groups"):
            lib.nn.init.dirac_(lib.empty(5, 2, 3, 3), 2)
    for name in ("uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
                 "kaiming_uniform", "kaiming_normal", "eye", "orthogonal", "dirac", "sparse"):
        args = {"constant": (0.5,), "sparse": (0.2,)}.get(name, ())
        shape = (3, 4, 3) if name == "dirac" else (3, 4)
        texts = [_warning_texts(lambda: getattr(lib.nn.init, name)(lib.empty(*shape), *args))
                 for lib in (torch, tg)]
        assert texts[0] == texts[1], name


def test_skip_init_draws_nothing_and_checks_its_class_as_torch():
    results = []
    for lib in (torch, tg):
        lib.manual_seed(0)
        first = lib.randn(3).numpy()
        lib.manual_seed(0)
        layer = lib.nn.utils.skip_init(lib.nn.Conv2d, 2, 4, 3, bias=True)
        again = lib.randn(3).numpy()
        results.append((np.array_equal(first, again), tuple(layer.weight.shape),
                        type(layer).__name__))
        with pytest.raises(RuntimeError, match="Expected a Module"):
            lib.nn.utils.skip_init(int)

        class NoDevice(lib.nn.Module):
            def __init__(self, n):
                super().__init__()
        with pytest.raises(RuntimeError, match="'device' arg"):
            lib.nn.utils.skip_init(NoDevice, 3)
    assert results[0] == results[1] == (True, (4, 2, 3, 3), "Conv2d")


def test_conv_weight_memory_format_and_clip_grad_norm_alias_as_torch():
    seen = []
    for lib in (torch, tg):
        nn = lib.nn
        m = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(),
                          nn.Sequential(nn.ConvTranspose2d(4, 2, 3), nn.Conv3d(2, 2, 1)))
        nn.utils.convert_conv2d_weight_memory_format(m, lib.channels_last)
        nn.utils.convert_conv3d_weight_memory_format(m, lib.channels_last_3d)
        p = lib.ones(3, requires_grad=True)
        (p * 4).sum().backward()
        texts = _warning_texts(lambda: nn.utils.clip_grad_norm([p], 1.0))
        seen.append((m[0].weight.stride(), m[2][0].weight.stride(), m[2][1].weight.stride(),
                     texts, np.round(p.grad.numpy(), 6).tolist()))
    assert seen[0] == seen[1]


def test_stack_dataset_and_distributed_sampler_as_torch():
    a, b = np.arange(10.0).reshape(5, 2), np.arange(5)
    out = []
    for lib in (torch, tg):
        data = lib.utils.data
        ta, tb = data.TensorDataset(lib.tensor(a)), data.TensorDataset(lib.tensor(b))
        by_position, by_name = data.StackDataset(ta, tb), data.StackDataset(x=ta, y=tb)
        batches = [[[v.tolist() for v in sample] for sample in batch]
                   for batch in data.DataLoader(by_position, batch_size=2)]
        named = [{k: [v.tolist() for v in vs] for k, vs in batch.items()}
                 for batch in data.DataLoader(by_name, batch_size=3)]
        errors = []
        for args, kwargs in (((ta,), {"y": tb}), ((), {}), ((ta, data.TensorDataset(
                lib.tensor(b[:3]))), {})):
            try:
                data.StackDataset(*args, **kwargs)
            except ValueError as exc:
                errors.append(str(exc))
        out.append((len(by_position), batches, named, errors,
                    data.DistributedSampler.__name__))
    assert out[0] == out[1]


def test_storages_share_memory_as_torch():
    def probe(lib):
        import warnings
        x = lib.arange(6.0).reshape(2, 3)
        s = x.untyped_storage()
        out = [type(s).__name__, s.nbytes(), s.size(), len(s), s.element_size(), str(s.device),
               s.data_ptr() == x.data_ptr(), x[1].untyped_storage().data_ptr() == s.data_ptr(),
               x.clone().untyped_storage().data_ptr() == s.data_ptr(), s.is_cuda, s[4], s[3],
               isinstance(s, lib.UntypedStorage), lib.is_storage(s), lib.is_storage(x)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ts = x[1].storage()
        out += [type(ts).__name__, ts.size(), len(ts), str(ts.dtype).replace("torch.", ""),
                ts[4], ts.tolist(), ts.element_size(), caught[0].message.args[0][:30]]
        ts[0] = 9.0                       # writes reach every tensor on the storage
        out.append(x.tolist())
        c = s.clone()
        c[0] = 1
        out += [x[0, 0].item(), s.tolist()[:8] == c.tolist()[:8], lib.is_storage(ts)]
        return out
    assert probe(tg) == probe(torch)


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.sampled_from([1, 1, 2, 3, 4]), min_size=0, max_size=5),
       data=st.data())
def test_dim_order_matches_torch(shape, data):
    x = RNG.standard_normal(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    channels_last = len(shape) == 4 and data.draw(st.booleans(), label="channels-last")
    strided = bool(shape) and shape[perm[-1]] > 1 and data.draw(st.booleans(), label="strided")
    views = []
    for lib in (torch, tg):
        t = lib.tensor(x).permute(*perm) if shape else lib.tensor(x)
        if channels_last:
            t = t.contiguous(memory_format=lib.channels_last)
        if strided:
            t = t[..., ::2]
        views.append(t)
    assert views[0].stride() == views[1].stride()
    results = []
    for lib, t in zip((torch, tg), views):
        row = []
        for check in (False, True, [lib.contiguous_format, lib.channels_last]):
            try:
                row.append(t.dim_order(ambiguity_check=check))
            except RuntimeError as exc:
                row.append(str(exc))
        try:
            t.dim_order(ambiguity_check="x")
        except TypeError as exc:
            row.append(str(exc))
        results.append(row)
    assert results[0] == results[1]
