"""tinygrad_cv: a computer-vision deep-learning framework on NumPy, and on CuPy on the GPU."""
from .backend import cuda_available, get_default_device, set_default_device, manual_seed  # noqa: F401

__version__ = "0.1.0"
