"""Tasks: what a rule's batch holds (supervised ``(x, y)``, unsupervised ``x``, modulated
``(x, m)``), checked at trace time; each task's evaluation; and the adapters that let a rule of
one task train on another's data (``readout``, ``bandit``).

Rules check shapes and dtypes when traced, never values: under ``jax.jit`` an integer label
outside ``[0, n_out)`` is not seen (it becomes a zero one-hot row and the updates stay finite).
``check(params, batch)`` checks values, at once on concrete arrays and as a ``checkify`` check
inside ``jax.jit``; ``credax.train.make_fit`` checks the data it is given before compiling."""

from credax._src.batches import MODULATED as MODULATED
from credax._src.batches import SUPERVISED as SUPERVISED
from credax._src.batches import UNSUPERVISED as UNSUPERVISED
from credax._src.batches import check_inputs as check_inputs
from credax._src.batches import modulated_batch as modulated_batch
from credax._src.batches import supervised_batch as supervised_batch
from credax._src.batches import unsupervised_batch as unsupervised_batch
from credax._src.tasks import TASKS as TASKS
from credax._src.tasks import Task as Task
from credax._src.tasks._values import check as check
from credax._src.tasks.modulated import BanditState as BanditState
from credax._src.tasks.modulated import bandit as bandit
from credax._src.tasks.modulated import modulated_evaluation as modulated_evaluation
from credax._src.tasks.supervised import supervised_evaluation as supervised_evaluation
from credax._src.tasks.unsupervised import readout as readout
from credax._src.tasks.unsupervised import unsupervised_evaluation as unsupervised_evaluation

__all__ = [
    "MODULATED",
    "SUPERVISED",
    "TASKS",
    "UNSUPERVISED",
    "BanditState",
    "Task",
    "bandit",
    "check",
    "check_inputs",
    "modulated_batch",
    "modulated_evaluation",
    "readout",
    "supervised_batch",
    "supervised_evaluation",
    "unsupervised_batch",
    "unsupervised_evaluation",
]
