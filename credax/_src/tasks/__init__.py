"""Tasks: what a rule's batches hold, how a run of it is evaluated, and how ``credax run``
compares it with the others. The engine and the command read a rule's task here and never ask
which family a rule belongs to."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from credax._src.batches import (
    BATCHES,
    MODULATED,
    SUPERVISED,
    TASK_NAMES,
    UNSUPERVISED,
)
from credax._src.tasks import modulated, supervised, unsupervised


class Task(NamedTuple):
    """One task.

    Attributes:
        name: ``"supervised"``, ``"unsupervised"`` or ``"modulated"``.
        takes_loss: whether its rules' factories take a loss.
        batch: ``batch(params, batch)``: the batch checked against the model (trace time).
        evaluation: ``evaluation(rule, *, loss, classification, angles)``: the default
            ``evaluate(params, rule_state, test, probe)`` of ``credax.train.make_fit``.
        check_data: ``check_data(init_model, name, data, loss)``: concrete data checked against
            the model before anything compiles.
        protocol: ``protocol(rule, *, loss, classification, angles) -> (rule, evaluate)``: how
            ``credax run`` trains a rule of this task on labelled data ``(x, y)``.
        description: one line.
    """

    name: str
    takes_loss: bool
    batch: Callable
    evaluation: Callable
    check_data: Callable
    protocol: Callable
    description: str


TASKS: dict[str, Task] = {
    SUPERVISED: Task(
        SUPERVISED,
        True,
        BATCHES[SUPERVISED],
        supervised.evaluation,
        supervised.check_data,
        supervised.protocol,
        "batches (x, y); descends a loss; evaluated by test loss, accuracy, angles to backprop",
    ),
    UNSUPERVISED: Task(
        UNSUPERVISED,
        False,
        BATCHES[UNSUPERVISED],
        unsupervised.evaluation,
        unsupervised.check_data,
        unsupervised.protocol,
        "batches x; compared through a delta-rule readout on the layers it learns",
    ),
    MODULATED: Task(
        MODULATED,
        False,
        BATCHES[MODULATED],
        modulated.evaluation,
        modulated.check_data,
        modulated.protocol,
        "batches (x, m), m a modulator from the data; compared as a contextual bandit",
    ),
}
assert tuple(TASKS) == TASK_NAMES
