"""Neural-network layers with torch.nn's names, parameter names, shapes and initialisation."""
from .module import (Buffer, Module, ModuleDict, ModuleList, Parameter,  # noqa: F401
                     ParameterDict, ParameterList, Sequential)
from . import functional  # noqa: F401
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .layers.linear import Identity, Linear, Bilinear, Flatten, Unflatten  # noqa: F401
from .layers.activation import (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Softmax,  # noqa: F401
                                LogSoftmax, Softmin, Hardtanh, ReLU6, ELU, CELU, SELU, Softplus,
                                Threshold, Hardsigmoid, Hardswish, Mish, Hardshrink, Softshrink,
                                GLU, LogSigmoid, Softsign, Tanhshrink, RReLU, PReLU, Softmax2d)
from .layers.dropout import Dropout, AlphaDropout, FeatureAlphaDropout  # noqa: F401
from .layers.embedding import Embedding, EmbeddingBag  # noqa: F401
from .layers.loss import (CrossEntropyLoss, NLLLoss, MultiMarginLoss, BCEWithLogitsLoss,  # noqa: F401
                          BCELoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss,
                          PoissonNLLLoss, GaussianNLLLoss, MarginRankingLoss, HingeEmbeddingLoss,
                          CosineEmbeddingLoss, TripletMarginLoss, TripletMarginWithDistanceLoss,
                          SoftMarginLoss, MultiLabelSoftMarginLoss, MultiLabelMarginLoss,
                          CTCLoss, NLLLoss2d, LinearCrossEntropyLoss)
from .layers.distance import PairwiseDistance, CosineSimilarity  # noqa: F401
from .layers.local_response_norm import LocalResponseNorm  # noqa: F401
from .layers.fold import Unfold, Fold  # noqa: F401
from .layers.adaptive_softmax import AdaptiveLogSoftmaxWithLoss  # noqa: F401
from .layers.rms_norm import RMSNorm  # noqa: F401
from .layers.recurrent import (RNNCellBase, RNNCell, LSTMCell, GRUCell,  # noqa: F401
                               RNNBase, RNN, LSTM, GRU)
from .layers.attention import (MultiheadAttention, TransformerEncoderLayer,  # noqa: F401
                               TransformerDecoderLayer, PositionalEncoding)
from .layers.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,  # noqa: F401
                          ConvTranspose3d)
from .layers.pooling import (MaxPool1d, MaxPool2d, MaxUnpool1d, MaxUnpool2d,  # noqa: F401
                             AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
                             AdaptiveMaxPool1d, AdaptiveMaxPool2d, FractionalMaxPool2d,
                             FractionalMaxPool3d,
                             MaxPool3d, AvgPool3d, MaxUnpool3d, AdaptiveAvgPool3d,
                             AdaptiveMaxPool3d)
from .layers.lp_pool import LPPool1d, LPPool2d, LPPool3d  # noqa: F401
from .layers.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm,  # noqa: F401
                                   GroupNorm)
from .layers.upsample import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d  # noqa: F401
from .layers.feature_dropout import Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from .layers.padding import (ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,  # noqa: F401
                             ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                             CircularPad1d, CircularPad2d, CircularPad3d, ZeroPad1d, ZeroPad2d,
                             ZeroPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d)
from .layers.pixel_shuffle import PixelShuffle, PixelUnshuffle, ChannelShuffle  # noqa: F401
from .layers.instance_norm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401
from .layers.transformer import TransformerEncoder, TransformerDecoder, Transformer  # noqa: F401
from .layers.data_parallel import DataParallel  # noqa: E402,F401
from .uninitialized import UninitializedParameter, UninitializedBuffer  # noqa: E402,F401
from .layers.lazy import (LazyLinear, LazyConv1d, LazyConv2d, LazyConvTranspose1d,  # noqa: E402,F401
                          LazyConvTranspose2d, LazyBatchNorm1d, LazyBatchNorm2d,
                          LazyInstanceNorm1d, LazyInstanceNorm2d)
from .layers.lazy import (LazyConv3d, LazyConvTranspose3d, LazyBatchNorm3d,  # noqa: E402,F401
                          LazyInstanceNorm3d)
from . import parameter  # noqa: E402,F401  (nn.parameter.UninitializedParameter, ...)
from .layers.sync_batchnorm import SyncBatchNorm  # noqa: E402,F401
from . import parallel  # noqa: E402,F401  (nn.parallel.DistributedDataParallel)
from . import modules  # noqa: E402,F401  (torch.nn.modules' paths: nn.modules.rnn.LSTM, ...)
