"""``torch.return_types``: the named tuples of functions with several results, one type per
function as torch has (``max``, ``sort``, ``topk``, ``linalg_svd``, ...).  Each is a tuple (it
unpacks and indexes as one) with named fields, printed as torch prints them::

    tinygrad_cv.return_types.max(
    values=tensor([0.3495, 2.6366]),
    indices=tensor([0, 2]))
"""
from __future__ import annotations

import collections

_FIELDS = {
    "max": ("values", "indices"), "min": ("values", "indices"),
    "sort": ("values", "indices"), "topk": ("values", "indices"),
    "kthvalue": ("values", "indices"), "median": ("values", "indices"),
    "nanmedian": ("values", "indices"), "mode": ("values", "indices"),
    "cummax": ("values", "indices"), "cummin": ("values", "indices"),
    "aminmax": ("min", "max"), "frexp": ("mantissa", "exponent"),
    "histogram": ("hist", "bin_edges"),
    "qr": ("Q", "R"), "svd": ("U", "S", "V"), "slogdet": ("sign", "logabsdet"),
    "linalg_qr": ("Q", "R"), "linalg_eigh": ("eigenvalues", "eigenvectors"),
    "linalg_svd": ("U", "S", "Vh"), "linalg_slogdet": ("sign", "logabsdet"),
    "linalg_lstsq": ("solution", "residuals", "rank", "singular_values"),
    "linalg_inv_ex": ("inverse", "info"), "linalg_solve_ex": ("result", "info"),
    "linalg_cholesky_ex": ("L", "info"),
    "linalg_lu_factor": ("LU", "pivots"), "linalg_lu_factor_ex": ("LU", "pivots", "info"),
    "linalg_lu": ("P", "L", "U"), "lu_unpack": ("P", "L", "U"),
    "_lu_with_info": ("LU", "pivots", "info"),
}


def _repr(self):
    fields = ",\n".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
    return f"tinygrad_cv.return_types.{type(self).__name__}(\n{fields})"


def _return_type(name, fields):
    """A tuple type ``name`` with the named ``fields`` (``collections.namedtuple``), defined in
    this module (so it pickles by name) and printed as torch's."""
    base = collections.namedtuple(name, fields)
    return type(name, (base,), {"__slots__": (), "__module__": __name__, "__repr__": _repr,
                                "__doc__": f"The results of ``{name}``: {', '.join(fields)}."})


globals().update({name: _return_type(name, fields) for name, fields in _FIELDS.items()})
__all__ = sorted(_FIELDS)
