"""make_grid: each image lands in its padded cell, unused cells and borders keep pad_value."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_cv import backend
from tinygrad_cv.imagegrid import make_grid


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 11), c=st.sampled_from([1, 3]), h=st.integers(1, 5), w=st.integers(1, 5),
       nrow=st.integers(1, 6), padding=st.integers(0, 3))
def test_cells_hold_the_images(n, c, h, w, nrow, padding):
    x = np.random.default_rng(n).random((n, c, h, w)).astype(np.float32)
    grid = make_grid(x, nrow=nrow, padding=padding, pad_value=-1.0)
    cols = min(nrow, n)
    rows = -(-n // cols)
    assert grid.shape == (rows * (h + padding) + padding, cols * (w + padding) + padding, c)
    covered = np.zeros(grid.shape[:2], bool)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        np.testing.assert_array_equal(grid[top:top + h, left:left + w], x[i].transpose(1, 2, 0))
        covered[top:top + h, left:left + w] = True
    assert (grid[~covered] == -1.0).all()


def test_device(device):
    x = backend.to_device(np.ones((2, 1, 3, 3), np.float32), device)
    assert backend.device_of(make_grid(x)) == device


@pytest.mark.parametrize("bad", [np.zeros((3, 4, 4)), np.zeros((0, 1, 2, 2))])
def test_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="make_grid"):
        make_grid(bad)
