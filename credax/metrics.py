"""Diagnostics comparing rules with backprop; pure and jit/vmap-able."""

from credax._src.feedback._metrics import feedback_angles as feedback_angles
from credax._src.feedback._metrics import lillicrap_condition as lillicrap_condition
from credax._src.feedback._metrics import norm_ratios as norm_ratios
from credax._src.feedback._metrics import sign_concordance as sign_concordance
from credax._src.metrics import EstimatorStatistics as EstimatorStatistics
from credax._src.metrics import all_finite as all_finite
from credax._src.metrics import angle as angle
from credax._src.metrics import estimator_statistics as estimator_statistics
from credax._src.metrics import layer_errors as layer_errors
from credax._src.metrics import update_angles as update_angles
from credax._src.metrics import update_statistics as update_statistics
from credax._src.metrics import weight_norms as weight_norms

__all__ = [
    "EstimatorStatistics",
    "all_finite",
    "angle",
    "estimator_statistics",
    "feedback_angles",
    "layer_errors",
    "lillicrap_condition",
    "norm_ratios",
    "sign_concordance",
    "update_angles",
    "update_statistics",
    "weight_norms",
]
