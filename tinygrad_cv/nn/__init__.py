"""Neural-network layers with torch.nn's names, parameter names, shapes and initialisation."""
from .module import (Module, ModuleDict, ModuleList, Parameter, Sequential)  # noqa: F401
from . import functional  # noqa: F401
