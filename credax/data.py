"""Datasets as arrays, offline by default (MNIST-1D, IDX files, teacher tasks, TFDS)."""

from credax._src.data import DATASETS as DATASETS
from credax._src.data import linear_teacher as linear_teacher
from credax._src.data import load as load
from credax._src.data import read_idx as read_idx
from credax._src.data import write_idx as write_idx

__all__ = ["DATASETS", "linear_teacher", "load", "read_idx", "write_idx"]
