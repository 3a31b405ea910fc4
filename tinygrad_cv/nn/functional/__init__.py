"""Functional forms of the layers, the losses and attention (``import tinygrad_cv.nn.functional as F``)."""
from .special import erf  # noqa: F401
from .activation import (relu, leaky_relu, sigmoid, tanh, gelu, silu, softmax,  # noqa: F401
                         log_softmax, softmin, hardtanh, relu6, elu, selu, celu, softplus,
                         logsigmoid, mish, softsign, tanhshrink, threshold, hardsigmoid,
                         hardswish, hardshrink, softshrink, prelu, rrelu, glu, relu_,
                         leaky_relu_, hardtanh_, elu_, selu_, celu_, threshold_, rrelu_)
from .linear import linear, bilinear  # noqa: F401
from .dropout import dropout  # noqa: F401
from .embedding import embedding, one_hot  # noqa: F401
from .embedding_bag import embedding_bag  # noqa: F401
from .loss import (cross_entropy, nll_loss, multi_margin_loss,  # noqa: F401
                   binary_cross_entropy_with_logits, binary_cross_entropy, mse_loss, l1_loss,
                   smooth_l1_loss, huber_loss, nt_xent_loss)
from .likelihood_loss import kl_div, poisson_nll_loss, gaussian_nll_loss  # noqa: F401
from .margin_loss import (margin_ranking_loss, hinge_embedding_loss,  # noqa: F401
                          soft_margin_loss, cosine_embedding_loss, triplet_margin_loss,
                          triplet_margin_with_distance_loss, multilabel_soft_margin_loss,
                          multilabel_margin_loss)
from .recurrent import (rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell,  # noqa: F401
                        rnn_sequence, lstm_sequence, gru_sequence)
from .attention import scaled_dot_product_attention, multi_head_attention_forward  # noqa: F401
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from .conv.three_d import conv3d, conv_transpose3d  # noqa: F401
from .pooling import max_pool2d, max_unpool2d, avg_pool2d, adaptive_avg_pool2d  # noqa: F401
from .adaptive_max_pool import adaptive_max_pool2d  # noqa: F401
from .pooling1d import (max_pool1d, avg_pool1d, adaptive_avg_pool1d,  # noqa: F401
                        adaptive_max_pool1d, max_unpool1d)
from .pooling3d import (max_pool3d, avg_pool3d, adaptive_avg_pool3d,  # noqa: F401
                        adaptive_max_pool3d, max_unpool3d)
from .batch_norm import batch_norm  # noqa: F401
from .normalization import layer_norm  # noqa: F401
from .group_norm import group_norm  # noqa: F401
from .interpolation import (interpolate, upsample, upsample_nearest,  # noqa: F401
                            upsample_bilinear)
from .distance import normalize, cosine_similarity, pairwise_distance, pdist  # noqa: F401
from .padding import pad  # noqa: F401
from .pixel_shuffle import (pixel_shuffle, pixel_unshuffle, channel_shuffle,  # noqa: F401
                            native_channel_shuffle)
from .feature_dropout import dropout1d, dropout2d, dropout3d  # noqa: F401
from .instance_norm import instance_norm  # noqa: F401
from .local_response_norm import local_response_norm  # noqa: F401
from .gumbel import gumbel_softmax  # noqa: F401
from .fold import unfold, fold  # noqa: F401
from .grid_sample import affine_grid, grid_sample  # noqa: F401
from .rms_norm import rms_norm  # noqa: F401
from .alpha_dropout import alpha_dropout, feature_alpha_dropout  # noqa: F401
from .ctc_loss import ctc_loss  # noqa: F401
from .linear_cross_entropy import linear_cross_entropy  # noqa: F401
from .fractional_max_pool import (fractional_max_pool2d,  # noqa: F401
                                  fractional_max_pool2d_with_indices, fractional_max_pool3d,
                                  fractional_max_pool3d_with_indices)
from .lp_pool import lp_pool1d, lp_pool2d, lp_pool3d  # noqa: F401
from .pooling_indices import (max_pool1d_with_indices, max_pool2d_with_indices,  # noqa: F401
                              adaptive_max_pool1d_with_indices,
                              adaptive_max_pool2d_with_indices, max_pool3d_with_indices,
                              adaptive_max_pool3d_with_indices)
