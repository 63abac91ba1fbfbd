"""Networks and the layers users build their own models from."""

from credax._src.layers import Conv2d as Conv2d
from credax._src.layers import Dense as Dense
from credax._src.layers import Feedback as Feedback
from credax._src.layers import Flatten as Flatten
from credax._src.layers import MaxPool2d as MaxPool2d
from credax._src.layers import Sequential as Sequential
from credax._src.layers import find_layers as find_layers
from credax._src.layers import identity as identity
from credax._src.nets import lenet as lenet
from credax._src.nets import mlp as mlp

__all__ = [
    "Conv2d",
    "Dense",
    "Feedback",
    "Flatten",
    "MaxPool2d",
    "Sequential",
    "find_layers",
    "identity",
    "lenet",
    "mlp",
]
