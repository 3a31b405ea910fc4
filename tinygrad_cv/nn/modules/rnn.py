"""torch.nn.modules.rnn's names (the classes live in tinygrad_cv.nn)."""
from .. import RNNCell, LSTMCell, GRUCell, RNN, LSTM, GRU  # noqa: F401
