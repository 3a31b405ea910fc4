"""Tensor-level ops against torch (the oracle): values, dtypes, shapes, errors and gradients at
the edges (0-d and empty tensors, mixed dtypes, ties and bounds, negative and tuple dims)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype in ("uint8", "int32", "int64"):
        return rng.integers(1, 5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _pair(array, requires_grad=False):
    """The same data as a torch tensor and a tinygrad_cv tensor."""
    t = torch.tensor(array, requires_grad=requires_grad)
    o = tg.tensor(array, requires_grad=requires_grad)
    return t, o


def _same(ours, theirs, tol=1e-6):
    """Equal dtype, shape and values (NaN where torch has NaN)."""
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol,
                               atol=tol)


# ---- type promotion ---------------------------------------------------------------------------
_BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
           "eq": lambda a, b: a == b, "lt": lambda a, b: a < b,
           "and": lambda a, b: a & b, "xor": lambda a, b: a ^ b}


@settings(max_examples=80, deadline=None)
@given(d1=st.sampled_from(DTYPES), d2=st.sampled_from(DTYPES),
       zero_dim=st.sampled_from(["neither", "left", "right", "both"]),
       op=st.sampled_from(sorted(_BINARY)))
def test_binary_promotion_with_0d_tensors(d1, d2, zero_dim, op):
    """torch: a 0-d tensor does not widen a dimensioned one of its category (float32 + 0-d
    float64 -> float32, uint8 + 0-d int64 -> uint8); comparisons compare in that dtype."""
    if op in ("and", "xor") and "float" in d1 + d2:
        return
    a = _array(d1, () if zero_dim in ("left", "both") else (4,), seed=1)
    b = _array(d2, () if zero_dim in ("right", "both") else (4,), seed=1)
    (ta, oa), (tb, ob) = _pair(a), _pair(b)
    fn = _BINARY[op]
    _same(fn(oa, ob), fn(ta, tb))


def test_comparison_in_the_float_dtype_of_the_tensor():
    """float32 tensor vs float64 0-d tensor of the same number: torch compares in float32."""
    a = np.array([0.1, 0.2], np.float32)
    (ta, oa), (tb, ob) = _pair(a), _pair(np.array(0.1))
    _same(oa == ob, ta == tb)
    _same(ob > oa, tb > ta)
    big = np.array([16777217])     # an int64 not representable in float32
    (ti, oi), (tf, of) = _pair(big), _pair(np.array([16777216.0], np.float32))
    _same(oi == of, ti == tf)


@pytest.mark.parametrize("op", ["__and__", "__or__", "__xor__"])
@pytest.mark.parametrize("dtype", ["bool", "int32", "int64"])
def test_bitwise_ops_with_a_python_scalar_on_the_left(op, dtype):
    t, o = _pair(_array(dtype, (5,)))
    scalar = True if dtype == "bool" else 6
    reflected = op.replace("__", "__r", 1)
    _same(getattr(o, reflected)(scalar), getattr(t, reflected)(scalar))
    _same(eval(f"scalar {dict(__and__='&', __or__='|', __xor__='^')[op]} o"),
          eval(f"scalar {dict(__and__='&', __or__='|', __xor__='^')[op]} t"))


def test_0d_float64_operand_keeps_float32_gradients():
    """The 0-d operand is cast (differentiably): its gradient comes back in its own dtype."""
    x_t, x_o = _pair(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    s_t, s_o = _pair(np.array(0.5), requires_grad=True)
    out_o, out_t = (x_o * s_o).sum(), (x_t * s_t).sum()
    _same(out_o, out_t)
    out_o.backward()
    out_t.backward()
    _same(x_o.grad, x_t.grad)
    _same(s_o.grad, s_t.grad)
