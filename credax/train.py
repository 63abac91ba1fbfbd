"""Training as one compiled program: scan over steps, vmap over seeds and feedback draws."""

from credax._src.train import FitResult as FitResult
from credax._src.train import History as History
from credax._src.train import fit as fit
from credax._src.train import make_fit as make_fit
from credax._src.train import sweep as sweep
from credax._src.train import sweep_fn as sweep_fn
from credax._src.train import sweep_keys as sweep_keys

__all__ = ["FitResult", "History", "fit", "make_fit", "sweep", "sweep_fn", "sweep_keys"]
