"""torch.nn.modules.linear's names (the classes live in tinygrad_cv.nn)."""
from .. import Identity, Linear  # noqa: F401
NonDynamicallyQuantizableLinear = Linear  # torch's out_proj class of attention
from .. import LazyLinear  # noqa: F401,E402
