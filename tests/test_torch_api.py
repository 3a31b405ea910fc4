"""torch's module-level API on tinygrad_cv: devices, the cuda/accelerator/backends namespaces,
what a bare ``import tinygrad_cv`` reaches, dtype names, constructors and random factories --
each compared with real torch where torch defines the answer."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import backend

SETTINGS = settings(max_examples=15, deadline=None)


def host(x):
    return backend.to_numpy(x.array)


# ---- device ------------------------------------------------------------------------------------
DEVICE_ARGS = [("cpu",), ("cuda",), ("cuda:0",), ("cuda", 0), ("cuda", 3), ("cpu", 0), ("cuda:12",),
               ("mps",), ("meta",)]


@pytest.mark.parametrize("args", DEVICE_ARGS)
def test_device_matches_torch(args):
    ours, theirs = tg.device(*args), torch.device(*args)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert tg.device(ours) is ours and pickle.loads(pickle.dumps(ours)) == ours


@SETTINGS
@given(st.sampled_from(DEVICE_ARGS), st.sampled_from(DEVICE_ARGS))
def test_device_equality_and_hash_match_torch(a, b):
    assert (tg.device(*a) == tg.device(*b)) == (torch.device(*a) == torch.device(*b))
    if tg.device(*a) == tg.device(*b):
        assert hash(tg.device(*a)) == hash(tg.device(*b))


@pytest.mark.parametrize("args,error", [
    (("cuda", -1), RuntimeError), (("cuda:-1",), RuntimeError), (("cuda: 1",), RuntimeError),
    (("foo",), RuntimeError), (("cuda:0", 1), RuntimeError), (("cuda", "x"), TypeError),
    ((None,), TypeError),
])
def test_invalid_devices_raise_as_torch(args, error):
    with pytest.raises(error):
        torch.device(*args)
    with pytest.raises(error):
        tg.device(*args)


def test_int_device_is_the_accelerator_index():
    if torch.accelerator.is_available() or tg.cuda.is_available():
        assert tg.device(0) == tg.device("cuda", 0)
    else:
        for make in (torch.device, tg.device):
            with pytest.raises(RuntimeError, match="accelerator"):
                make(0)


def test_device_objects_go_where_device_strings_go():
    cpu = tg.device("cpu")
    x = tg.ones(2, device=cpu)
    assert x.device == cpu and x.device == torch.device("cpu").type and x.device.type == "cpu"
    assert x.device.index is None and str(x.device) == "cpu"
    assert x.to(cpu) is x and x.to(tg.device("cpu", 0)) is x
    assert x.to(cpu, tg.float64).dtype == np.float64
    assert x.to(device=cpu, copy=True) is not x
    assert x.to(cpu, tg.float32, False, True) is not x and x.to(cpu, tg.float32, True) is x
    for make in (tg.zeros, tg.ones, tg.empty, tg.rand, tg.randn):
        assert make(2, device=cpu).device == cpu
    assert tg.full((2,), 1.0, device=cpu).device == cpu and tg.tensor([1], device=cpu).device == cpu
    assert tg.randint(3, (2,), device=cpu).device == cpu
    assert tg.randperm(3, device=cpu).device == cpu
    m = tg.nn.Linear(2, 3).to(cpu)
    assert all(p.device == cpu for p in m.parameters())
    with pytest.raises(RuntimeError, match="not supported"):
        x.to(tg.device("mps"))
    with pytest.raises(RuntimeError, match="one GPU"):
        tg.zeros(2, device="cuda:1")
    with pytest.raises(RuntimeError, match="one GPU"):
        x.to("cuda:1")


def test_device_context_sets_the_default_device():
    with tg.device("cpu"):
        assert tg.zeros(1).device == "cpu"
    assert tg.get_default_device() == "cpu"


# ---- cuda / accelerator / backends -------------------------------------------------------------
def test_cuda_and_accelerator_queries_agree_with_the_backend():
    has_gpu = backend.cuda_available()
    assert tg.cuda.is_available() == has_gpu == tg.accelerator.is_available()
    assert tg.cuda.device_count() == tg.accelerator.device_count() == int(has_gpu)
    assert tg.accelerator.current_accelerator() == (tg.device("cuda") if has_gpu else None)
    if not has_gpu:   # torch on this CPU-only machine answers the same
        assert torch.accelerator.current_accelerator() is None
        assert torch.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="no GPU"):
            tg.cuda.synchronize()
    else:
        tg.cuda.synchronize()


def test_cuda_manual_seed_leaves_the_cpu_stream_alone():
    tg.manual_seed(0)
    a = tg.randn(3)
    tg.manual_seed(0)
    tg.cuda.manual_seed(123)
    tg.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(host(tg.randn(3)), host(a))


def test_backends_flags_are_accepted():
    cudnn = tg.backends.cudnn
    for name in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name)
    saved = cudnn.benchmark, cudnn.deterministic
    cudnn.benchmark, cudnn.deterministic = True, True
    assert tg.backends.cudnn.benchmark and tg.backends.cudnn.deterministic
    cudnn.benchmark, cudnn.deterministic = saved
    tg.backends.cuda.matmul.allow_tf32 = True
    tg.backends.cuda.matmul.allow_tf32 = False
    assert tg.backends.mps.is_available() is False and tg.backends.mps.is_built() is False
    assert cudnn.is_available() is False


def test_bare_import_reaches_torch_namespaces():
    code = ("import tinygrad_cv as t; "
            "[t.nn.Linear, t.nn.functional, t.optim.SGD, t.utils.data.DataLoader, "
            "t.cuda.is_available, t.accelerator.is_available, t.backends.cudnn.benchmark, "
            "t.autograd.grad, t.device, t.Generator]")
    subprocess.run([sys.executable, "-c", code], check=True)
    # torch's module paths under utils.data, imported first, are the modules of tinygrad_cv.data
    code = ("from tinygrad_cv.utils.data.sampler import RandomSampler; "
            "from tinygrad_cv.utils.data.dataloader import DataLoader, default_collate; "
            "from tinygrad_cv.utils.data.dataset import Subset; "
            "from tinygrad_cv.utils.data.distributed import DistributedSampler; "
            "import tinygrad_cv.data as d, tinygrad_cv.distributed as dist; "
            "assert RandomSampler is d.RandomSampler and DataLoader is d.DataLoader; "
            "assert default_collate is d.default_collate and Subset is d.Subset; "
            "assert DistributedSampler is dist.DistributedSampler")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- dtypes and constructors -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["float", "float32", "float64", "double", "half", "float16",
                                  "long", "int", "int64", "int32", "int16", "int8", "short",
                                  "bool", "uint8"])
def test_dtype_names_match_torch(name):
    ours, theirs = getattr(tg, name), getattr(torch, name)
    assert str(ours) == str(theirs).replace("torch.", "")
    assert isinstance(ours, tg.dtype)
    assert tg.zeros(2, dtype=ours).dtype == ours
    assert tg.zeros(1, dtype=ours).type() == torch.zeros(1, dtype=theirs).type()


def test_default_dtype():
    assert str(tg.get_default_dtype()) == str(torch.get_default_dtype()).replace("torch.", "")
    tg.set_default_dtype(tg.float32)
    with pytest.raises(NotImplementedError, match="float32"):
        tg.set_default_dtype(tg.float64)


@SETTINGS
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3))
def test_sizes_constructors_match_torch(sizes):
    for ours, theirs in ((tg.Tensor, torch.Tensor), (tg.FloatTensor, torch.FloatTensor),
                         (tg.LongTensor, torch.LongTensor), (tg.DoubleTensor, torch.DoubleTensor),
                         (tg.BoolTensor, torch.BoolTensor), (tg.ByteTensor, torch.ByteTensor)):
        if ours is tg.Tensor and len(sizes) == 1:
            continue   # Tensor(n) with one int is a scalar here (README: differences)
        o, t = ours(*sizes), theirs(*sizes)
        assert o.shape == tuple(t.shape) and str(o.dtype) == str(t.dtype).replace("torch.", "")


def test_data_constructors_match_torch():
    for ours, theirs in ((tg.FloatTensor, torch.FloatTensor), (tg.LongTensor, torch.LongTensor),
                         (tg.DoubleTensor, torch.DoubleTensor), (tg.BoolTensor, torch.BoolTensor),
                         (tg.IntTensor, torch.IntTensor), (tg.HalfTensor, torch.HalfTensor)):
        o, t = ours([[1, 0], [2, 3]]), theirs([[1, 0], [2, 3]])
        assert str(o.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_array_equal(host(o), t.numpy())
        assert isinstance(o, ours) and not isinstance(o.to(tg.int8), ours)
    assert tg.Tensor().shape == tuple(torch.Tensor().shape) and tg.Tensor().dtype == np.float32
    np.testing.assert_array_equal(host(tg.Tensor([1, 2])), [1, 2])
    assert tg.Tensor(2, 3, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="sizes"):
        tg.Tensor([1], [2])
    with pytest.raises(TypeError, match="sizes \\(ints\\) or one sequence"):
        tg.FloatTensor([1], [2])
    x = tg.ones(2)
    assert x.type(tg.cuda.FloatTensor if tg.cuda.is_available() else tg.DoubleTensor).dtype in (
        np.float32, np.float64)


def test_as_tensor_shares_memory_as_torch():
    a = np.zeros(3, dtype=np.float32)
    ours, theirs = tg.as_tensor(a), torch.as_tensor(a)
    a[0] = 5
    assert host(ours)[0] == theirs[0].item() == 5
    assert tg.as_tensor(a, dtype=tg.float64).dtype == np.float64
    assert tg.as_tensor([1, 2]).dtype == np.int64


@pytest.mark.parametrize("args,kwargs,lo,hi", [
    ((3, (5,)), {}, 0, 3), ((2, 9, (2, 3)), {}, 2, 9), ((), dict(high=4, size=(3,)), 0, 4),
    ((4,), dict(size=(2, 2)), 0, 4), ((1, 5), dict(size=(4,)), 1, 5),
    ((3, (5,)), dict(dtype="float32"), 0, 3),
])
def test_randint_forms_match_torch(args, kwargs, lo, hi):
    tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    ours, theirs = tg.randint(*args, **kwargs), torch.randint(*args, **tkw)
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    values = host(tg.randint(*args, **dict(kwargs, size=(400,))) if "size" in kwargs else
                  tg.randint(*args[:-1], (400,), **kwargs))
    assert values.min() == lo and values.max() == hi - 1


def test_randint_errors_as_torch():
    for args in ((3,), (3, 2)):
        with pytest.raises(TypeError):
            torch.randint(*args)
        with pytest.raises(TypeError):
            tg.randint(*args)
    with pytest.raises(RuntimeError, match="from"):
        tg.randint(5, 5, (2,))


def test_randperm_and_generators():
    for n in (0, 1, 7):
        p = tg.randperm(n)
        assert p.dtype == np.int64 and sorted(host(p).tolist()) == list(range(n))
    assert tg.randperm(4, dtype=tg.float32).dtype == np.float32
    g1, g2 = tg.Generator().manual_seed(4), tg.Generator().manual_seed(4)
    assert g1.initial_seed() == 4
    for fn in (lambda g: tg.randperm(9, generator=g), lambda g: tg.rand(3, generator=g),
               lambda g: tg.randn(2, 2, generator=g), lambda g: tg.randint(5, (4,), generator=g)):
        np.testing.assert_array_equal(host(fn(g1)), host(fn(g2)))
    tg.manual_seed(0)
    tg.randn(2)
    tg.randn(2, generator=tg.Generator())   # a private generator leaves the global stream alone
    after = host(tg.randn(2))
    tg.manual_seed(0)
    tg.randn(2)
    np.testing.assert_array_equal(host(tg.randn(2)), after)
    with pytest.raises(RuntimeError, match="negative"):
        tg.randperm(-1)
    with pytest.raises(TypeError, match="Generator"):
        tg.rand(2, generator=np.random.default_rng(0))



def test_deterministic_algorithms_switch_round_trips():
    # torch's defaults (the switch itself is not exercised in torch: its first call costs ~2 s)
    assert tg.are_deterministic_algorithms_enabled() is torch.are_deterministic_algorithms_enabled()
    for mode, warn in ((True, False), (True, True), (False, False)):
        tg.use_deterministic_algorithms(mode, warn_only=warn)
        assert tg.are_deterministic_algorithms_enabled() is mode
        assert tg.is_deterministic_algorithms_warn_only_enabled() is warn
    with pytest.raises(TypeError):   # torch: "argument 'mode' must be bool, not int"
        tg.use_deterministic_algorithms(1)


def test_cuda_memory_helpers_and_tensor_cuda_arguments():
    x = tg.ones(2)
    with pytest.raises(ValueError, match="cuda device"):
        x.cuda("cpu")
    for lib in (torch, tg):      # memory formats are checked as torch checks them
        with pytest.raises(TypeError, match="memory_format"):
            lib.ones(2).cpu(memory_format="channels_last")
        with pytest.raises(RuntimeError, match="required rank 4"):
            lib.ones(2).cpu(memory_format=lib.channels_last)
    y = tg.ones(2, 3, 4, 5).cpu(memory_format=tg.channels_last)
    assert y.stride() == torch.ones(2, 3, 4, 5).cpu(memory_format=torch.channels_last).stride()
    assert tg.cuda.is_bf16_supported() is False
    tg.cuda.empty_cache()
    if tg.cuda.is_available():
        assert x.cuda(0).device == "cuda" and x.cuda(non_blocking=True).is_cuda
        assert tg.cuda.memory_allocated() >= 0 and tg.cuda.get_device_name()
    else:
        assert tg.cuda.memory_allocated() == 0
        with pytest.raises(RuntimeError, match="no GPU"):
            tg.cuda.get_device_name()
        with pytest.raises(RuntimeError):
            x.cuda()


def test_rng_states_round_trip():
    tg.manual_seed(0)
    state = tg.get_rng_state()
    a = host(tg.randn(4))
    tg.set_rng_state(state)
    np.testing.assert_array_equal(host(tg.randn(4)), a)
    g = tg.Generator().manual_seed(2)
    saved = g.get_state()
    b = host(tg.randperm(6, generator=g))
    assert g.set_state(saved) is g
    np.testing.assert_array_equal(host(tg.randperm(6, generator=g)), b)
    with pytest.raises(TypeError, match="get_state"):
        g.set_state(torch.get_rng_state())   # torch's ByteTensor state is not ours
