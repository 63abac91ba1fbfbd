"""credax: biologically plausible credit-assignment rules for JAX."""

from credax import data as data
from credax import losses as losses
from credax import metrics as metrics
from credax import nets as nets
from credax import registry as registry
from credax import tasks as tasks
from credax import train as train
from credax._src.combine import MaskedState as MaskedState
from credax._src.combine import chain as chain
from credax._src.combine import masked as masked
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
from credax._src.perturbation import AgrelState as AgrelState
from credax._src.perturbation import ForwardGradientState as ForwardGradientState
from credax._src.perturbation import NodePerturbationState as NodePerturbationState
from credax._src.perturbation import ReinforceState as ReinforceState
from credax._src.perturbation import WeightPerturbationState as WeightPerturbationState
from credax._src.perturbation import agrel as agrel
from credax._src.perturbation import forward_gradient as forward_gradient
from credax._src.perturbation import node_perturbation as node_perturbation
from credax._src.perturbation import reinforce as reinforce
from credax._src.perturbation import weight_perturbation as weight_perturbation
from credax._src.rule import BackpropState as BackpropState
from credax._src.rule import LearningRule as LearningRule
from credax._src.rule import backprop as backprop
from credax._src.rule import make_rule as make_rule

__version__ = "0.2.0"

__all__ = [
    "AgrelState",
    "BackpropState",
    "DirectFeedbackAlignmentState",
    "FeedbackAlignmentState",
    "ForwardGradientState",
    "KolenPollackState",
    "LearningRule",
    "MaskedState",
    "NodePerturbationState",
    "ReinforceState",
    "SignSymmetryState",
    "WeightMirrorState",
    "WeightPerturbationState",
    "agrel",
    "backprop",
    "chain",
    "data",
    "direct_feedback_alignment",
    "feedback_alignment",
    "forward_gradient",
    "glorot_uniform",
    "kolen_pollack",
    "losses",
    "make_rule",
    "masked",
    "metrics",
    "nets",
    "node_perturbation",
    "registry",
    "reinforce",
    "sign_symmetry",
    "tasks",
    "train",
    "weight_mirror",
    "weight_perturbation",
]
