"""Convolution weights converted to a memory format (torch's helpers for channels-last
training): the weights of every ``Conv2d``/``ConvTranspose2d`` (``Conv3d``/``ConvTranspose3d``)
in a module tree get ``memory_format``'s strides, values unchanged."""
from __future__ import annotations


def _convert(module, memory_format, classes):
    if isinstance(module, classes):
        module.weight.data = module.weight.detach().clone(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, classes)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    from ..layers.conv import Conv2d, ConvTranspose2d
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    from ..layers.conv import Conv3d, ConvTranspose3d
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
