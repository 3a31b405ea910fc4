"""torch.nn.modules.rnn's names (the classes live in tinygrad_cv.nn)."""
from .. import (RNNCellBase, RNNCell, LSTMCell, GRUCell, RNNBase, RNN, LSTM,  # noqa: F401
               GRU)
