"""SimCLR on the digits (the notes' section 二.8): two random views per image, a conv encoder
and projection head trained with NT-Xent, and linear probes of the encoder's features."""
from .augment import RandomCutout, TwoViewAugment, default_augmentation
from .model import ConvEncoder, ProjectionHead, SimCLR
from .probe import ProbeResult, encode, fit_probe, linear_probe, pca_2d, select_labelled
from .training import build_simclr, default_config, digits_splits, load_simclr, train_simclr

__all__ = ["RandomCutout", "TwoViewAugment", "default_augmentation", "ConvEncoder",
           "ProjectionHead", "SimCLR", "ProbeResult", "encode", "fit_probe", "linear_probe",
           "pca_2d", "select_labelled", "build_simclr", "default_config", "digits_splits",
           "load_simclr", "train_simclr"]
