"""Training as one compiled program: scan over steps, vmap over seeds and rule-key draws, shard
over every device of every process."""

from credax._src.train._fit import Fit as Fit
from credax._src.train._fit import FitResult as FitResult
from credax._src.train._fit import History as History
from credax._src.train._fit import fit as fit
from credax._src.train._fit import make_fit as make_fit
from credax._src.train._schedule import Schedule as Schedule
from credax._src.train._schedule import make_schedule as make_schedule
from credax._src.train._sweep import SweepProgram as SweepProgram
from credax._src.train._sweep import choose_seed_block as choose_seed_block
from credax._src.train._sweep import initialize_distributed as initialize_distributed
from credax._src.train._sweep import seed_rule_key as seed_rule_key
from credax._src.train._sweep import sweep as sweep
from credax._src.train._sweep import sweep_fn as sweep_fn
from credax._src.train._sweep import sweep_keys as sweep_keys

__all__ = [
    "Fit",
    "FitResult",
    "History",
    "Schedule",
    "SweepProgram",
    "choose_seed_block",
    "fit",
    "initialize_distributed",
    "make_fit",
    "make_schedule",
    "seed_rule_key",
    "sweep",
    "sweep_fn",
    "sweep_keys",
]
