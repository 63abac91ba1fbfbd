"""credax: biologically plausible credit-assignment rules for JAX."""

from credax import data as data
from credax import dendrites as dendrites
from credax import hopfield as hopfield
from credax import losses as losses
from credax import metrics as metrics
from credax import nets as nets
from credax import registry as registry
from credax import spiking as spiking
from credax import tasks as tasks
from credax import train as train
from credax._src.combine import MaskedState as MaskedState
from credax._src.combine import chain as chain
from credax._src.combine import masked as masked
from credax._src.dendrites import BurstpropState as BurstpropState
from credax._src.dendrites import MicrocircuitState as MicrocircuitState
from credax._src.dendrites import SegregatedDendritesState as SegregatedDendritesState
from credax._src.dendrites import burstprop as burstprop
from credax._src.dendrites import dendritic_microcircuit as dendritic_microcircuit
from credax._src.dendrites import dendritic_prediction as dendritic_prediction
from credax._src.dendrites import segregated_dendrites as segregated_dendrites
from credax._src.energy import equilibrium_propagation as equilibrium_propagation
from credax._src.energy import predictive_coding as predictive_coding
from credax._src.feedback._rules import DirectFeedbackAlignmentState as DirectFeedbackAlignmentState
from credax._src.feedback._rules import FeedbackAlignmentState as FeedbackAlignmentState
from credax._src.feedback._rules import KolenPollackState as KolenPollackState
from credax._src.feedback._rules import SignSymmetryState as SignSymmetryState
from credax._src.feedback._rules import WeightMirrorState as WeightMirrorState
from credax._src.feedback._rules import direct_feedback_alignment as direct_feedback_alignment
from credax._src.feedback._rules import feedback_alignment as feedback_alignment
from credax._src.feedback._rules import glorot_uniform as glorot_uniform
from credax._src.feedback._rules import kolen_pollack as kolen_pollack
from credax._src.feedback._rules import sign_symmetry as sign_symmetry
from credax._src.feedback._rules import weight_mirror as weight_mirror
from credax._src.local import BCMState as BCMState
from credax._src.local import EligibilityState as EligibilityState
from credax._src.local import HomeostasisState as HomeostasisState
from credax._src.local import bcm as bcm
from credax._src.local import hebb as hebb
from credax._src.local import homeostasis as homeostasis
from credax._src.local import intrinsic_plasticity as intrinsic_plasticity
from credax._src.local import oja as oja
from credax._src.local import three_factor as three_factor
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
from credax._src.rule import EmptyState as EmptyState
from credax._src.rule import LearningRule as LearningRule
from credax._src.rule import backprop as backprop
from credax._src.rule import complete as complete
from credax._src.rule import init_empty as init_empty
from credax._src.rule import make_rule as make_rule
from credax._src.spiking._latency import spike_latency as spike_latency
from credax._src.spiking._stdp import GraupnerBrunelState as GraupnerBrunelState
from credax._src.spiking._stdp import graupner_brunel as graupner_brunel
from credax._src.spiking._stdp import stdp as stdp
from credax._src.spiking._superspike import SuperSpikeState as SuperSpikeState
from credax._src.spiking._superspike import superspike as superspike
from credax._src.target import BalancedInhibitionState as BalancedInhibitionState
from credax._src.target import TargetPropagationState as TargetPropagationState
from credax._src.target import balanced_inhibition_gradient as balanced_inhibition_gradient
from credax._src.target import difference_target_propagation as difference_target_propagation
from credax._src.target import target_propagation as target_propagation

__version__ = "0.4.0"

__all__ = [
    "AgrelState",
    "BCMState",
    "BalancedInhibitionState",
    "BurstpropState",
    "DirectFeedbackAlignmentState",
    "EligibilityState",
    "EmptyState",
    "FeedbackAlignmentState",
    "ForwardGradientState",
    "GraupnerBrunelState",
    "HomeostasisState",
    "KolenPollackState",
    "LearningRule",
    "MaskedState",
    "MicrocircuitState",
    "NodePerturbationState",
    "ReinforceState",
    "SegregatedDendritesState",
    "SignSymmetryState",
    "SuperSpikeState",
    "TargetPropagationState",
    "WeightMirrorState",
    "WeightPerturbationState",
    "agrel",
    "backprop",
    "balanced_inhibition_gradient",
    "bcm",
    "burstprop",
    "chain",
    "complete",
    "data",
    "dendrites",
    "dendritic_microcircuit",
    "dendritic_prediction",
    "difference_target_propagation",
    "direct_feedback_alignment",
    "equilibrium_propagation",
    "feedback_alignment",
    "forward_gradient",
    "glorot_uniform",
    "graupner_brunel",
    "hebb",
    "homeostasis",
    "hopfield",
    "init_empty",
    "intrinsic_plasticity",
    "kolen_pollack",
    "losses",
    "make_rule",
    "masked",
    "metrics",
    "nets",
    "node_perturbation",
    "oja",
    "predictive_coding",
    "registry",
    "reinforce",
    "segregated_dendrites",
    "sign_symmetry",
    "spike_latency",
    "spiking",
    "stdp",
    "superspike",
    "target_propagation",
    "tasks",
    "three_factor",
    "train",
    "weight_mirror",
    "weight_perturbation",
]
