"""Functions with several results return torch's named tuples (``return_types``): the same
type name, field names and text as torch's for every such function here."""
import pickle
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg

A = np.array([[4.0, 1.0, 2.0], [1.0, 3.0, 0.5], [2.0, 0.5, 5.0]])
CALLS = {
    "max": lambda m, x: m.max(x, 1), "min": lambda m, x: x.min(dim=0),
    "sort": lambda m, x: x.sort(1), "topk": lambda m, x: x.topk(2),
    "kthvalue": lambda m, x: x.kthvalue(2), "median": lambda m, x: x.median(0),
    "nanmedian": lambda m, x: x.nanmedian(1), "mode": lambda m, x: x.mode(0),
    "cummax": lambda m, x: x.cummax(0), "cummin": lambda m, x: m.cummin(x, 1),
    "aminmax": lambda m, x: m.aminmax(x), "frexp": lambda m, x: m.frexp(x),
    "histogram": lambda m, x: m.histogram(x, 4),
    "qr": lambda m, x: m.qr(x), "svd": lambda m, x: m.svd(x),
    "linalg_qr": lambda m, x: m.linalg.qr(x), "linalg_eigh": lambda m, x: m.linalg.eigh(x),
    "linalg_svd": lambda m, x: m.linalg.svd(x), "linalg_slogdet": lambda m, x: m.linalg.slogdet(x),
    "linalg_lstsq": lambda m, x: m.linalg.lstsq(x, x),
    "linalg_inv_ex": lambda m, x: m.linalg.inv_ex(x),
    "linalg_solve_ex": lambda m, x: m.linalg.solve_ex(x, x),
    "linalg_cholesky_ex": lambda m, x: m.linalg.cholesky_ex(x),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_types_and_fields_are_torchs(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = CALLS[name](torch, torch.tensor(A))
    ours = CALLS[name](tg, tg.tensor(A))
    assert type(ours).__name__ == type(theirs).__name__ == name
    assert isinstance(ours, getattr(tg.return_types, name)) and isinstance(ours, tuple)
    fields = [f for f in dir(theirs) if not f.startswith("_") and f not in
              ("count", "index", "n_fields", "n_sequence_fields", "n_unnamed_fields")]
    assert sorted(ours._fields) == sorted(fields)
    assert len(ours) == len(theirs)


def test_text_and_pickling_match_torch():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 0.0, 4.0]], np.float32)
    ours, theirs = tg.tensor(x).max(1), torch.tensor(x).max(1)
    assert repr(ours).replace("tinygrad_cv.", "") == repr(theirs).replace("torch.", "")
    back = pickle.loads(pickle.dumps(ours))
    assert type(back) is tg.return_types.max and back.indices.tolist() == [1, 2]
    values, indices = ours
    assert values.tolist() == [5.0, 4.0] and ours[1] is ours.indices
