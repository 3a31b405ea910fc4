"""``inplace=True`` of the activations and dropouts, against torch: the input tensor itself is
overwritten (same object returned, version bumped), gradients through it are torch's, and a
leaf that requires grad raises torch's error."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg

# name -> layer constructor taking (lib); dropouts use p=1 or p=0 so both frameworks agree
LAYERS = {
    "ReLU": lambda lib: lib.nn.ReLU(inplace=True),
    "LeakyReLU": lambda lib: lib.nn.LeakyReLU(0.2, inplace=True),
    "SiLU": lambda lib: lib.nn.SiLU(inplace=True),
    "Dropout_p1": lambda lib: lib.nn.Dropout(1.0, inplace=True),
    "Dropout2d_p1": lambda lib: lib.nn.Dropout2d(1.0, inplace=True),
    "Dropout1d_unbatched_p1": lambda lib: lib.nn.Dropout1d(1.0, inplace=True),
    "Dropout_eval": lambda lib: lib.nn.Dropout(0.5, inplace=True).eval(),
}


def _run(lib, name, x0):
    x = lib.tensor(x0, requires_grad=True)
    y = x * 1.5                         # a non-leaf the layer may overwrite
    shape = (3, 5) if name.startswith("Dropout1d_unbatched") else None
    if shape is not None:
        y = y.reshape(shape)
    before = y._version
    out = LAYERS[name](lib)(y)
    assert out is y                     # the input itself, changed in place
    (out * out).sum().backward()
    return out.detach().numpy(), x.grad.numpy(), y._version - before


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inplace_layers_overwrite_their_input_as_torch(name):
    x0 = np.random.default_rng(0).standard_normal((3, 5, 1)).reshape(3, 5) if "1d" in name \
        else np.random.default_rng(0).standard_normal((2, 3, 2, 2))
    ours, theirs = _run(tg, name, x0), _run(torch, name, x0)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-12)
    assert (ours[2] > 0) == (theirs[2] > 0)       # changed in place (or, in eval, untouched)


@pytest.mark.parametrize("fn", ["dropout", "dropout1d", "dropout2d"])
def test_inplace_dropout_keeps_the_same_mask_as_the_out_of_place_form(fn):
    x0 = np.random.default_rng(1).standard_normal((4, 6, 5))
    drop = getattr(tg.nn.functional, fn)
    tg.manual_seed(7)
    ref = drop(tg.tensor(x0), 0.3)
    tg.manual_seed(7)
    x = tg.tensor(x0)
    out = drop(x, 0.3, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), ref.numpy())
    assert 0 < np.count_nonzero(ref.numpy()) < ref.numel()     # some kept, some dropped


@pytest.mark.parametrize("fn", ["relu", "leaky_relu", "silu"])
def test_inplace_activation_of_a_leaf_that_requires_grad_raises_as_torch(fn):
    for lib in (tg, torch):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(lib.nn.functional, fn)(x, inplace=True)
