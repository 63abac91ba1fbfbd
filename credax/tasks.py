"""Tasks: what a rule's batch holds (supervised ``(x, y)``, unsupervised ``x``, modulated
``(x, m)``), checked at trace time."""

from credax._src.tasks import MODULATED as MODULATED
from credax._src.tasks import SUPERVISED as SUPERVISED
from credax._src.tasks import TASKS as TASKS
from credax._src.tasks import UNSUPERVISED as UNSUPERVISED
from credax._src.tasks import check_inputs as check_inputs
from credax._src.tasks import modulated_batch as modulated_batch
from credax._src.tasks import supervised_batch as supervised_batch
from credax._src.tasks import unsupervised_batch as unsupervised_batch

__all__ = [
    "MODULATED",
    "SUPERVISED",
    "TASKS",
    "UNSUPERVISED",
    "check_inputs",
    "modulated_batch",
    "supervised_batch",
    "unsupervised_batch",
]
