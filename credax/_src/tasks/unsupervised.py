"""The unsupervised task: batches ``x`` (or the inputs of ``(x, y)``), no loss. Its evaluation
records what the layers became (weight norms, activity) and, where labels and a loss are given,
how a readout on them does; ``readout`` is the protocol ``credax run`` compares unsupervised
rules with: the rule learns the hidden layers, the delta rule learns the output layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from credax._src.combine import chain, masked
from credax._src.nets._select import layer_mask
from credax._src.nets._trace import call_order
from credax._src.rule import LearningRule, backprop, complete, forward
from credax._src.tasks._records import (
    Evaluate,
    check_targets,
    layer_records,
    model_output,
    readout_records,
)


def _inputs(test: Any) -> Any:
    return test[0] if isinstance(test, (tuple, list)) else test


def representation_evaluation(
    rule: LearningRule | None,
    loss: Callable | None,
    *,
    inputs: Callable[[Any], Any],
    classification: bool,
    angles: bool,
) -> Evaluate:
    rule = None if rule is None else complete(rule, "evaluation")

    def evaluate(params, rule_state, test, probe):
        x = inputs(test)
        rec, out = layer_records(params, x)
        if loss is not None:
            own = rule is not None and rule.predict is not forward
            rec.update(
                readout_records(
                    params,
                    rule_state,
                    rule,
                    test,
                    probe,
                    loss=loss,
                    classification=classification,
                    angles=angles,
                    outputs=None if own else out,
                )
            )
        return rec

    return evaluate


def unsupervised_evaluation(
    rule: LearningRule | None = None,
    *,
    loss: Callable | None = None,
    classification: bool = True,
    angles: bool = True,
) -> Evaluate:
    """The evaluation of unsupervised rules, ``evaluate(params, rule_state, test, probe)``.

    Records, on the test inputs (``test`` is ``x`` or ``(x, y)``): ``weight_norms`` (``‖W_l‖``
    per credax layer) and ``activity`` (RMS of each layer's output). With a ``loss`` (and
    ``test = (x, y)``), also the supervised records of the network's output: ``test_loss``,
    ``test_accuracy`` (``classification``) and, given the ``rule``, ``update_angles`` (see
    ``credax.tasks.supervised_evaluation``): what a readout trained on the learned layers
    achieves, under ``credax.tasks.readout``.
    """
    return representation_evaluation(
        rule, loss, inputs=_inputs, classification=classification, angles=angles
    )


def evaluation(rule, *, loss=None, classification=True, angles=True) -> Evaluate:
    return unsupervised_evaluation(rule, loss=loss, classification=classification, angles=angles)


def readout(rule: LearningRule, loss: Callable) -> LearningRule:
    """``rule`` on every credax layer but the output layer, and the delta rule on the output layer.

    The output layer is the one the model applies last; its rule is backprop restricted to it,
    ``ΔW = -δ hᵀ`` with ``δ = ∂L/∂a`` its own error: the delta rule, local to the layer. The
    result is a supervised rule (``(x, y)`` batches; the unsupervised rule reads ``x``) whose
    value is the readout's loss. It is how ``credax run`` compares an unsupervised rule with the
    others: by the test accuracy of a readout on the representation it learns.

    Args:
        rule: a rule for the hidden layers (any task whose batch reads ``x``).
        loss: the readout's ``loss(outputs, y)``.

    Returns:
        ``credax.chain(credax.masked(rule, hidden), credax.masked(credax.backprop(loss), output))``.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> L = credax.losses.softmax_cross_entropy
        >>> net = credax.nets.mlp([4, 6, 3], activation=jnp.tanh, key=0)
        >>> rule = credax.tasks.readout(credax.backprop(L), L)   # any rule for the hidden layer
        >>> g, _ = rule.update(net, rule.init(0, net), (jnp.ones((2, 4)), jnp.array([0, 2])))
        >>> g.layers[1].weight.shape
        (3, 6)
    """
    rule = complete(rule, "readout")

    def last(params):
        return call_order(params)[-1]

    def hidden(params):
        top = last(params)
        return layer_mask(params, lambda i, layer: i != top)

    def output(params):
        top = last(params)
        return layer_mask(params, lambda i, layer: i == top)

    return chain(masked(rule, hidden), masked(backprop(loss), output))


def check_data(init_model: Callable, name: str, data: Any, loss: Callable | None) -> None:
    """Concrete inputs (``x``, or ``(x, y)``) against the model, and with a loss the targets."""
    if loss is not None and isinstance(data, (tuple, list)) and len(data) == 2:
        check_targets(init_model, loss, name, *data)
        return
    x = _inputs(data)
    model_output(init_model, np.shape(x), np.result_type(x), name)


def protocol(rule: LearningRule, *, loss, classification=True, angles=True):
    """How ``credax run`` compares an unsupervised rule on ``(x, y)`` data: ``readout``."""
    rule = readout(rule, loss)
    return rule, unsupervised_evaluation(
        rule, loss=loss, classification=classification, angles=angles
    )
