"""Networks, the layers users build their own models from, and the primitives of local rules:
``trace`` (each layer's input, pre-activation, output and exposed internals), ``scan`` (a
``jax.lax.scan`` that traces see into) and ``local_updates``."""

from credax._src.nets._build import lenet as lenet
from credax._src.nets._build import mlp as mlp
from credax._src.nets._containers import Flatten as Flatten
from credax._src.nets._containers import MaxPool2d as MaxPool2d
from credax._src.nets._containers import Sequential as Sequential
from credax._src.nets._conv import Conv2d as Conv2d
from credax._src.nets._dense import Dense as Dense
from credax._src.nets._layer import Layer as Layer
from credax._src.nets._layer import identity as identity
from credax._src.nets._select import find_layers as find_layers
from credax._src.nets._select import foreign_arrays as foreign_arrays
from credax._src.nets._select import layer_mask as layer_mask
from credax._src.nets._select import map_layers as map_layers
from credax._src.nets._select import only_layers as only_layers
from credax._src.nets._select import trainable as trainable
from credax._src.nets._trace import Trace as Trace
from credax._src.nets._trace import call_order as call_order
from credax._src.nets._trace import local_updates as local_updates
from credax._src.nets._trace import preactivation_shapes as preactivation_shapes
from credax._src.nets._trace import scan as scan
from credax._src.nets._trace import trace as trace

__all__ = [
    "Conv2d",
    "Dense",
    "Flatten",
    "Layer",
    "MaxPool2d",
    "Sequential",
    "Trace",
    "call_order",
    "find_layers",
    "foreign_arrays",
    "identity",
    "layer_mask",
    "lenet",
    "local_updates",
    "map_layers",
    "mlp",
    "only_layers",
    "preactivation_shapes",
    "scan",
    "trace",
    "trainable",
]
