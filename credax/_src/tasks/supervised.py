"""The supervised task: batches ``(x, y)``, a loss, and its evaluation (test loss and accuracy,
and the angle of each layer's update to the gradient)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from credax._src.rule import LearningRule, complete
from credax._src.tasks._records import Evaluate, check_pair, check_targets, readout_records


def supervised_evaluation(
    loss: Callable,
    rule: LearningRule | None = None,
    *,
    classification: bool = True,
    angles: bool = True,
) -> Evaluate:
    """The evaluation of supervised rules, ``evaluate(params, rule_state, test, probe)``.

    Records ``test_loss`` and (with ``classification``) ``test_accuracy`` on ``test = (x, y)``
    (outputs from ``rule.predict``: the feedforward pass unless the rule says otherwise), and,
    given the ``rule``, ``update_angles``: per credax layer, the angle in degrees between the
    rule's update and the gradient of the loss on the ``probe`` batch (for a rule with its own
    ``predict``, the gradient of the loss of its outputs, differentiated through it). Angles
    are NaN without ``angles``, and for a layer the rule leaves unchanged, e.g. outside a
    ``credax.masked`` rule's mask: the angle of a zero update is undefined; each angle record
    costs two gradient evaluations on the probe.
    """
    rule = None if rule is None else complete(rule, "supervised_evaluation")

    def evaluate(params, rule_state, test, probe):
        return readout_records(
            params,
            rule_state,
            rule,
            test,
            probe,
            loss=loss,
            classification=classification,
            angles=angles,
        )

    return evaluate


def evaluation(rule, *, loss, classification=True, angles=True) -> Evaluate:
    if loss is None:
        raise TypeError(
            "the supervised evaluation needs loss=...; pass evaluate(params, rule_state, test, "
            "probe) -> dict for other tasks"
        )
    return supervised_evaluation(loss, rule, classification=classification, angles=angles)


def check_data(init_model: Callable, name: str, data: Any, loss: Callable | None) -> None:
    """Concrete ``(x, y)`` against the model: input shape, and integer labels against its
    outputs (through ``loss``)."""
    x, y = check_pair(data, name, "(x, y) for a supervised rule")
    check_targets(init_model, loss, name, x, y)


def protocol(rule: LearningRule, *, loss, classification=True, angles=True):
    """How ``credax run`` trains and evaluates a supervised rule on ``(x, y)`` data: as it is."""
    return rule, supervised_evaluation(loss, rule, classification=classification, angles=angles)
