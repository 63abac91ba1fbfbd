"""Networks, the layers users build their own models from, and the two primitives of local
rules: ``trace`` (each layer's input, pre-activation and output) and ``local_updates``."""

from credax._src.layers import Conv2d as Conv2d
from credax._src.layers import Dense as Dense
from credax._src.layers import Feedback as Feedback
from credax._src.layers import Flatten as Flatten
from credax._src.layers import Layer as Layer
from credax._src.layers import MaxPool2d as MaxPool2d
from credax._src.layers import Sequential as Sequential
from credax._src.layers import Trace as Trace
from credax._src.layers import call_order as call_order
from credax._src.layers import find_layers as find_layers
from credax._src.layers import foreign_arrays as foreign_arrays
from credax._src.layers import identity as identity
from credax._src.layers import layer_mask as layer_mask
from credax._src.layers import local_updates as local_updates
from credax._src.layers import map_layers as map_layers
from credax._src.layers import only_layers as only_layers
from credax._src.layers import trace as trace
from credax._src.nets import lenet as lenet
from credax._src.nets import mlp as mlp

__all__ = [
    "Conv2d",
    "Dense",
    "Feedback",
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
    "trace",
]
