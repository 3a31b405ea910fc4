"""``skip_init``: build a module without running its parameter initialisation (torch's, which
builds it on the meta device and then allocates uninitialised storage)."""
from __future__ import annotations

import inspect

from ..init import skipping_initialisation
from ..module import Module


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` whose parameters and buffers are left as allocated: the
    initialisers of ``nn.init`` do nothing (and draw no random numbers) while it is built, so
    their values are arbitrary, as torch's.  The class must take a ``device`` argument."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    with skipping_initialisation():
        return module_cls(*args, **kwargs)
