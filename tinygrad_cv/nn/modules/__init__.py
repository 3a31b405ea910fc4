"""``torch.nn.modules``' submodule paths (``torch.nn.modules.rnn.LSTM``, ...), which scripts
name in ``torch.serialization.safe_globals`` lists; the classes are tinygrad_cv.nn's."""
from . import (  # noqa: F401
    module, container, linear, activation, conv, pooling, batchnorm, instancenorm,
    normalization, dropout, sparse, rnn, transformer, loss, flatten, upsampling,
    pixelshuffle, padding, lazy
)
from .. import (  # noqa: F401,E402
    Module, Sequential, ModuleList, ModuleDict, Identity, Linear, ReLU, LeakyReLU, Sigmoid,
    Tanh, GELU, SiLU, Softmax, LogSoftmax, MultiheadAttention, Conv2d, ConvTranspose2d,
    MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, InstanceNorm1d,
    InstanceNorm2d, LayerNorm, GroupNorm, Dropout, Dropout1d, Dropout2d, Dropout3d,
    Embedding, RNNCell, LSTMCell, GRUCell, RNN, LSTM, GRU, Transformer, TransformerEncoder,
    TransformerDecoder, TransformerEncoderLayer, TransformerDecoderLayer, CrossEntropyLoss,
    NLLLoss, MultiMarginLoss, BCEWithLogitsLoss, BCELoss, MSELoss, L1Loss, SmoothL1Loss,
    Flatten, Upsample, PixelShuffle, PixelUnshuffle, ReflectionPad1d, ReflectionPad2d,
    ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d, ConstantPad1d, ConstantPad2d,
    CircularPad2d
)
