"""Hopfield networks: the classic binary network (``store``, ``recall``, ``energy``,
``overlap``) and the modern dense network (``modern_recall``), pure and vmappable."""

from credax._src.hopfield import energy as energy
from credax._src.hopfield import modern_recall as modern_recall
from credax._src.hopfield import overlap as overlap
from credax._src.hopfield import recall as recall
from credax._src.hopfield import store as store

__all__ = ["energy", "modern_recall", "overlap", "recall", "store"]
