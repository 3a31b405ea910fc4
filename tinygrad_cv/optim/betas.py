"""The ``betas`` pair of the Adam family (Adamax, NAdam, RAdam): checked as torch does."""
from __future__ import annotations

from .optimizer import check_beta


def check_betas(betas):
    """Raise ``ValueError`` unless ``betas`` is a pair ``(beta1, beta2)`` with both in [0, 1);
    the message names the index of the bad one, as torch's."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid betas value: {betas!r} (expected a pair (beta1, beta2))")
    check_beta("beta parameter at index 0", betas[0])
    check_beta("beta parameter at index 1", betas[1])
