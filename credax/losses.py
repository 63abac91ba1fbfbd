"""Losses: batched means, with inputs checked at trace time."""

from credax._src.losses import accuracy as accuracy
from credax._src.losses import mse as mse
from credax._src.losses import softmax_cross_entropy as softmax_cross_entropy

__all__ = ["accuracy", "mse", "softmax_cross_entropy"]
