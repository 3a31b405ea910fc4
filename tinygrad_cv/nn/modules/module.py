"""torch.nn.modules.module's names (the classes live in tinygrad_cv.nn)."""
from .. import Module  # noqa: F401
from ..module import (register_module_forward_hook, register_module_forward_pre_hook,  # noqa: F401
                      register_module_full_backward_hook, register_module_full_backward_pre_hook)

__all__ = ["Module", "register_module_forward_hook", "register_module_forward_pre_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook"]
