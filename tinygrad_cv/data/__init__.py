"""Datasets, samplers, the mini-batch loader, batched augmentations and the bundled data.

``tinygrad_cv.utils.data`` is this package (torch.utils.data's names).

    from tinygrad_cv.data import DataLoader, TensorDataset, load_digits, transforms
    x, y = load_digits("train")
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=0)
"""
from .dataset import (ChainDataset, ConcatDataset, DataLoader, Dataset,  # noqa: F401
                      IterableDataset, StackDataset, Subset, TensorDataset, default_collate,
                      default_convert, get_worker_info, random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                      SubsetRandomSampler, WeightedRandomSampler)
from .datasets import SAMPLE_IMAGES, load_digits, load_sample_image, stratified_split  # noqa: F401
from .shapes_captions import ShapesCaptions  # noqa: F401
from . import transforms  # noqa: F401


def __getattr__(name):
    """``DistributedSampler`` (torch.utils.data's name) comes from ``tinygrad_cv.distributed``,
    loaded on first use."""
    if name == "DistributedSampler":
        from ..distributed.sampler import DistributedSampler
        return DistributedSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
