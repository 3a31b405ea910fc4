"""torch.nn.modules.loss's names (the classes live in tinygrad_cv.nn)."""
from .. import CrossEntropyLoss, NLLLoss, MultiMarginLoss, BCEWithLogitsLoss, BCELoss, MSELoss, L1Loss, SmoothL1Loss  # noqa: F401
