"""Models built only on tinygrad_cv: classifiers, diffusion, ... and their registry.

``models.load_model(checkpoint)`` rebuilds any registered model from a checkpoint written by
its training entry point (eval mode); ``models.registry`` maps model names to builders,
training entry points, options and samplers.
"""


def load_model(checkpoint, device=None):
    """The model saved in ``checkpoint``, in eval mode (see ``models.registry.load_model``)."""
    from .registry import load_model as _load_model

    return _load_model(checkpoint, device=device)


def get_entry(name):
    """The registry entry of model ``name`` (see ``models.registry.get_entry``)."""
    from .registry import get_entry as _get_entry

    return _get_entry(name)
