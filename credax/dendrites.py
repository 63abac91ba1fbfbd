"""Dendrites and bursts: the compartments behind the dendritic family of rules.

The rules are top-level factories (``credax.dendritic_prediction``,
``credax.dendritic_microcircuit``, ``credax.segregated_dendrites``, ``credax.burstprop``: the
``dendrites`` family); here are their states, the microcircuit's first phase (the
self-predicting state, learned with no target) and the names of its records.
"""

from credax._src.dendrites import RECORDS as MICROCIRCUIT_RECORDS
from credax._src.dendrites import BurstpropState as BurstpropState
from credax._src.dendrites import MicrocircuitState as MicrocircuitState
from credax._src.dendrites import SegregatedDendritesState as SegregatedDendritesState
from credax._src.dendrites import microcircuit_self_prediction as microcircuit_self_prediction

__all__ = [
    "MICROCIRCUIT_RECORDS",
    "BurstpropState",
    "MicrocircuitState",
    "SegregatedDendritesState",
    "microcircuit_self_prediction",
]
