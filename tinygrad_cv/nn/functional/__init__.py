"""Functional forms of the layers, the losses and attention (``import tinygrad_cv.nn.functional as F``)."""
