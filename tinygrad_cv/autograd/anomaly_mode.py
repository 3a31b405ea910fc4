"""torch.autograd.anomaly_mode's names (anomaly mode lives in ``mode.py``)."""
from .mode import detect_anomaly, set_detect_anomaly  # noqa: F401

__all__ = ["detect_anomaly", "set_detect_anomaly"]
