"""Datasets, the mini-batch loader, batched augmentations and the bundled data.

    from tinygrad_cv.data import DataLoader, TensorDataset, load_digits, transforms
    x, y = load_digits("train")
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=0)
"""
from .dataset import DataLoader, Dataset, TensorDataset, default_collate  # noqa: F401
from .datasets import SAMPLE_IMAGES, load_digits, load_sample_image, stratified_split  # noqa: F401
from . import transforms  # noqa: F401
