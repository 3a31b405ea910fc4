"""2-D convolution and transposed convolution, one module per algorithm (the 1-D and 3-D
layers run them on views).

    dispatch      which algorithm for which shape, and why
    convolution   conv2d: Conv2dFn and its argument checks
    transposed    conv_transpose2d: ConvTranspose2dFn (a convolution's input gradient)
    im2col        per-sample columns and batched GEMMs (any stride; col2im input gradient)
    grid          implicit GEMM on the padded grid (stride 1: shifted GEMMs, no columns)
    columns       small maps: one channels-last column GEMM per product
    one_d         conv1d, conv_transpose1d: the 2-D functions on an (N, C, 1, L) view
    three_d       conv3d, conv_transpose3d: depth columns (im2col along D) and the 2-D functions
    layout        padding, stride dilation, kernel flip, output size, the column-buffer bound

Each algorithm module gives its math and shapes; timings are in benchmarks/RESULTS.md
("Convolution algorithms").
"""
from .convolution import Conv2dFn, conv2d  # noqa: F401
from .transposed import ConvTranspose2dFn, conv_transpose2d  # noqa: F401
from .one_d import conv1d, conv_transpose1d  # noqa: F401
from .three_d import conv3d, conv_transpose3d  # noqa: F401

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "Conv2dFn", "ConvTranspose2dFn"]
