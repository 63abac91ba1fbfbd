"""Spiking networks: leaky integrate-and-fire layers simulated over a leading time axis, encoders,
traces and spike-train distances, the Graupner-Brunel synapse for spike protocols, and NIR
export and import. The rules that train them (``credax.stdp``,
``credax.superspike`` and the others of the ``spiking`` family) are top-level factories; every
other credax rule applies to these layers unchanged (backprop is surrogate-gradient BPTT)."""

from credax._src.spiking._encode import Encode as Encode
from credax._src.spiking._encode import check_spikes as check_spikes
from credax._src.spiking._encode import exponential_trace as exponential_trace
from credax._src.spiking._encode import latency as latency
from credax._src.spiking._encode import network as network
from credax._src.spiking._encode import poisson as poisson
from credax._src.spiking._encode import regular as regular
from credax._src.spiking._encode import van_rossum as van_rossum
from credax._src.spiking._neurons import LI as LI
from credax._src.spiking._nir import from_nir as from_nir
from credax._src.spiking._nir import to_nir as to_nir
from credax._src.spiking._stdp import SynapseRun as SynapseRun
from credax._src.spiking._stdp import graupner_brunel_synapse as graupner_brunel_synapse
from credax._src.spiking._superspike import alpha_filter as alpha_filter
from credax._src.spiking._superspike import van_rossum_loss as van_rossum_loss
from credax._src.spiking._neurons import LIF as LIF
from credax._src.spiking._neurons import Dynamics as Dynamics
from credax._src.spiking._neurons import FastSigmoid as FastSigmoid
from credax._src.spiking._neurons import TimeReduce as TimeReduce
from credax._src.spiking._neurons import fast_sigmoid as fast_sigmoid
from credax._src.spiking._neurons import spike as spike

__all__ = [
    "LI",
    "LIF",
    "Dynamics",
    "Encode",
    "FastSigmoid",
    "SynapseRun",
    "TimeReduce",
    "alpha_filter",
    "check_spikes",
    "exponential_trace",
    "fast_sigmoid",
    "from_nir",
    "graupner_brunel_synapse",
    "latency",
    "network",
    "poisson",
    "regular",
    "spike",
    "to_nir",
    "van_rossum",
    "van_rossum_loss",
]
