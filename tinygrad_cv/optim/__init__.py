"""Optimizers with torch's update rules, learning-rate schedules and weight averaging."""
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .ema import EMA  # noqa: F401
from . import lr_scheduler  # noqa: F401
from . import swa_utils  # noqa: F401  (AveragedModel, SWALR, update_bn)
from .adadelta import Adadelta  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .adamax import Adamax  # noqa: F401
from .nadam import NAdam  # noqa: F401
from .radam import RAdam  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from .rprop import Rprop  # noqa: F401
from .asgd import ASGD  # noqa: F401
