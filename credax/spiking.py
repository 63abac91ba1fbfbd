"""Spiking networks: leaky integrate-and-fire layers simulated over a leading time axis, encoders,
traces and spike-train distances, the Graupner-Brunel synapse for spike protocols, NIR export
and import, and time-to-first-spike networks (``LatencyDense``, Mostafa 2017). The rules that
train them (``credax.stdp``, ``credax.graupner_brunel``, ``credax.superspike``,
``credax.spike_latency``: the ``spiking`` family) are top-level factories; every other credax
rule applies to the LIF layers unchanged (backprop is surrogate-gradient BPTT)."""

from credax._src.spiking._encode import Encode as Encode
from credax._src.spiking._encode import check_spikes as check_spikes
from credax._src.spiking._encode import exponential_trace as exponential_trace
from credax._src.spiking._encode import latency as latency
from credax._src.spiking._encode import network as network
from credax._src.spiking._encode import poisson as poisson
from credax._src.spiking._encode import regular as regular
from credax._src.spiking._encode import van_rossum as van_rossum
from credax._src.spiking._latency import FirstSpike as FirstSpike
from credax._src.spiking._latency import LatencyDense as LatencyDense
from credax._src.spiking._latency import LatencyEncode as LatencyEncode
from credax._src.spiking._latency import causal_set as causal_set
from credax._src.spiking._latency import first_spike as first_spike
from credax._src.spiking._latency import latency_network as latency_network
from credax._src.spiking._latency import weight_sum_cost as weight_sum_cost
from credax._src.spiking._neurons import LI as LI
from credax._src.spiking._neurons import LIF as LIF
from credax._src.spiking._neurons import Dynamics as Dynamics
from credax._src.spiking._neurons import FastSigmoid as FastSigmoid
from credax._src.spiking._neurons import TimeReduce as TimeReduce
from credax._src.spiking._neurons import fast_sigmoid as fast_sigmoid
from credax._src.spiking._neurons import spike as spike
from credax._src.spiking._nir import from_nir as from_nir
from credax._src.spiking._nir import to_nir as to_nir
from credax._src.spiking._stdp import SynapseRun as SynapseRun
from credax._src.spiking._stdp import graupner_brunel_synapse as graupner_brunel_synapse
from credax._src.spiking._superspike import alpha_filter as alpha_filter
from credax._src.spiking._superspike import van_rossum_loss as van_rossum_loss

__all__ = [
    "LI",
    "LIF",
    "Dynamics",
    "Encode",
    "FastSigmoid",
    "FirstSpike",
    "LatencyDense",
    "LatencyEncode",
    "SynapseRun",
    "TimeReduce",
    "alpha_filter",
    "causal_set",
    "check_spikes",
    "exponential_trace",
    "fast_sigmoid",
    "first_spike",
    "from_nir",
    "graupner_brunel_synapse",
    "latency",
    "latency_network",
    "network",
    "poisson",
    "regular",
    "spike",
    "to_nir",
    "van_rossum",
    "van_rossum_loss",
    "weight_sum_cost",
]
