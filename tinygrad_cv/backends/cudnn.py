"""torch.backends.cudnn's flags: read and set freely, no effect (cuDNN is not used)."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: tinygrad_cv's kernels do not call cuDNN."""
    return False


def version():
    """None: cuDNN is not used."""
    return None
