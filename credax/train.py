"""Training as one compiled program: scan over steps, vmap over seeds and feedback draws, shard
over every device of every process."""

from credax._src.train import Fit as Fit
from credax._src.train import FitResult as FitResult
from credax._src.train import History as History
from credax._src.train import SweepProgram as SweepProgram
from credax._src.train import choose_seed_block as choose_seed_block
from credax._src.train import fit as fit
from credax._src.train import initialize_distributed as initialize_distributed
from credax._src.train import make_fit as make_fit
from credax._src.train import seed_rule_key as seed_rule_key
from credax._src.train import supervised_evaluation as supervised_evaluation
from credax._src.train import sweep as sweep
from credax._src.train import sweep_fn as sweep_fn
from credax._src.train import sweep_keys as sweep_keys

__all__ = [
    "Fit",
    "FitResult",
    "History",
    "SweepProgram",
    "choose_seed_block",
    "fit",
    "initialize_distributed",
    "make_fit",
    "seed_rule_key",
    "supervised_evaluation",
    "sweep",
    "sweep_fn",
    "sweep_keys",
]
