"""credax: biologically plausible credit-assignment rules for JAX."""

from credax import data as data
from credax import losses as losses
from credax import metrics as metrics
from credax import nets as nets
from credax import train as train
from credax._src.feedback import DirectFeedbackAlignmentState as DirectFeedbackAlignmentState
from credax._src.feedback import FeedbackAlignmentState as FeedbackAlignmentState
from credax._src.feedback import KolenPollackState as KolenPollackState
from credax._src.feedback import SignSymmetryState as SignSymmetryState
from credax._src.feedback import WeightMirrorState as WeightMirrorState
from credax._src.feedback import direct_feedback_alignment as direct_feedback_alignment
from credax._src.feedback import feedback_alignment as feedback_alignment
from credax._src.feedback import glorot_uniform as glorot_uniform
from credax._src.feedback import kolen_pollack as kolen_pollack
from credax._src.feedback import sign_symmetry as sign_symmetry
from credax._src.feedback import weight_mirror as weight_mirror
from credax._src.rule import BackpropState as BackpropState
from credax._src.rule import LearningRule as LearningRule
from credax._src.rule import backprop as backprop

__version__ = "0.1.0"

__all__ = [
    "BackpropState",
    "DirectFeedbackAlignmentState",
    "FeedbackAlignmentState",
    "KolenPollackState",
    "LearningRule",
    "SignSymmetryState",
    "WeightMirrorState",
    "backprop",
    "data",
    "direct_feedback_alignment",
    "feedback_alignment",
    "glorot_uniform",
    "kolen_pollack",
    "losses",
    "metrics",
    "nets",
    "sign_symmetry",
    "train",
    "weight_mirror",
]
