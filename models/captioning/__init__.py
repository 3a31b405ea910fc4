"""Image captioning on ``tinygrad_cv.data.ShapesCaptions``: a CNN encoder and a vanilla RNN,
LSTM or transformer decoder, trained end to end with teacher forcing; greedy and beam-search
decoding; corpus BLEU in ``models.metrics``.

    from models.captioning import CaptioningRNN, CaptioningTransformer
    rnn = CaptioningRNN(vocab, feature_dim=128, wordvec_dim=64, hidden_dim=128, cell="lstm")
    loss = rnn.loss(features, captions)          # features (N, 128), captions (N, T) ids
    ids = rnn.sample(features, max_length=20)    # greedy; beam=K for beam search
"""
from .base import CaptionDecoder, vocab_words  # noqa: F401
from .decoding import beam_decode, greedy_decode  # noqa: F401
from .encoder import CNNEncoder, ImageCaptioner  # noqa: F401
from .rnn import CELLS, CaptioningRNN  # noqa: F401
from .transformer import CaptioningTransformer  # noqa: F401

__all__ = ["CaptionDecoder", "CaptioningRNN", "CaptioningTransformer", "CNNEncoder",
           "ImageCaptioner", "greedy_decode", "beam_decode", "vocab_words", "CELLS"]
