"""Shared fixtures for the credax test suite.

JAX is put in strict mode here (implicit rank promotion raises), so any hidden broadcasting in the
library fails loudly.

The rule registry: every learning rule credax ships is one ``RuleSpec`` line in ``RULES``. The
contract, learning and error tests are parametrised over it, so a new rule is tested by adding a
line and setting the flags that describe what it promises.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

# The suite is dominated by XLA compile time on a small CPU; tests use tiny shapes, so trade the
# backend's optimisation (and its compile time, about half the suite's) for speed. Set XLA_FLAGS
# with your own --xla_backend_optimization_level to override.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

import jax.numpy as jnp  # noqa: E402
import pytest  # noqa: E402

import credax  # noqa: E402


@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """How to build a rule from a loss, and which properties it promises.

    Attributes:
        factory: ``factory(loss, **options) -> credax.LearningRule``.
        options: the options the tests use (small and fast).
        exact_options: overrides under which the rule reduces to backprop once its feedback is
            made exact (e.g. no weight decay folded into the updates).
        feedback_path: ``state.feedback`` holds one ``B_l`` per layer in ``W_l``'s shape, used in
            place of ``W_l`` on the backward path, so ``B_l = W_l`` gives backprop exactly.
        sign_concordant: the feedback used has the sign of ``W`` everywhere.
        learns_feedback: ``B`` learns to approach ``W`` during training.
        direct: direct feedback alignment (``B_l`` of shape ``(n_out, *h_l.shape)``).
        estimator: a stochastic estimator of the gradient (perturbation rules): a single update
            matches backprop only on average over the rule's key, so no layer of it (not even
            the output layer) equals backprop's; ``tests/test_perturbation.py`` checks its mean.
        tolerance: ``(rtol, atol)`` for comparing two runs that differ only in how XLA compiles
            them (jit vs eager, vmap vs a loop). Finite-difference estimators divide a loss
            difference by ``σ``, which amplifies float rounding of the loss by about ``1/σ``.
    """

    factory: Callable[..., credax.LearningRule]
    options: dict = dataclasses.field(default_factory=dict)
    exact_options: dict = dataclasses.field(default_factory=dict)
    feedback_path: bool = False
    sign_concordant: bool = False
    learns_feedback: bool = False
    direct: bool = False
    estimator: bool = False
    tolerance: tuple[float, float] = (1e-5, 1e-6)

    def make(self, loss, *, exact: bool = False, **overrides) -> credax.LearningRule:
        opts = {**self.options, **(self.exact_options if exact else {}), **overrides}
        return self.factory(loss, **opts)


# One line per rule. Small mirror_batch keeps compile and run times low.
RULES: dict[str, RuleSpec] = {
    "bp": RuleSpec(credax.backprop),
    "fa": RuleSpec(credax.feedback_alignment, feedback_path=True),
    "dfa": RuleSpec(credax.direct_feedback_alignment, direct=True),
    "usf": RuleSpec(credax.sign_symmetry, sign_concordant=True),
    "frsf": RuleSpec(credax.sign_symmetry, {"random_magnitude": True}, sign_concordant=True),
    "brsf": RuleSpec(
        credax.sign_symmetry, {"random_magnitude": True, "redraw": True}, sign_concordant=True
    ),
    "kp": RuleSpec(
        credax.kolen_pollack,
        {"feedback_lr": 0.1, "decay": 0.1},
        exact_options={"decay": 0.0},
        feedback_path=True,
        learns_feedback=True,
    ),
    "wm": RuleSpec(
        credax.weight_mirror, {"mirror_batch": 4}, feedback_path=True, learns_feedback=True
    ),
    # Perturbation rules. Weight-space estimators average 8 draws so that the learning test
    # (1,443 weights, 150 Adam steps) passes with a margin; one draw just passes there.
    # Finite differences at σ = 1e-3 turn float rounding of the loss (~1e-7) into ~1e-4.
    "wp": RuleSpec(
        credax.weight_perturbation,
        {"n_perturbations": 8},
        estimator=True,
        tolerance=(1e-3, 2e-4),
    ),
    "np": RuleSpec(credax.node_perturbation, estimator=True, tolerance=(1e-3, 2e-4)),
    "reinforce": RuleSpec(credax.reinforce, estimator=True),
    "agrel": RuleSpec(credax.agrel, estimator=True),
    "fg": RuleSpec(credax.forward_gradient, {"n_tangents": 8}, estimator=True),
    "fga": RuleSpec(credax.forward_gradient, {"activity": True}, estimator=True),
}

RULE_NAMES = list(RULES)
FEEDBACK_PATH_RULES = [n for n, s in RULES.items() if s.feedback_path]
SIGN_RULES = [n for n, s in RULES.items() if s.sign_concordant]
LEARNED_FEEDBACK_RULES = [n for n, s in RULES.items() if s.learns_feedback]
NON_BP_RULES = [n for n in RULES if n != "bp"]
ESTIMATOR_RULES = [n for n, s in RULES.items() if s.estimator]
# Rules whose output-layer update is backprop's exactly (all but backprop itself and estimators).
EXACT_OUTPUT_RULES = [n for n in NON_BP_RULES if not RULES[n].estimator]

LOSS = credax.losses.softmax_cross_entropy
N_CLASSES = 3


def make_rule(name: str, loss=LOSS, *, exact: bool = False, **overrides) -> credax.LearningRule:
    return RULES[name].make(loss, exact=exact, **overrides)


def make_mlp(key, sizes=(5, 7, 6, N_CLASSES), activation=jnp.tanh):
    return credax.nets.mlp(list(sizes), activation=activation, key=key)


def make_lenet(key):
    return credax.nets.lenet(key=key, n_classes=N_CLASSES)


def make_convnet(key):
    """A tiny conv net with stride, padding, a bias-free layer and no pooling."""
    k1, k2, k3 = jax.random.split(key, 3)
    nets = credax.nets
    return nets.Sequential(
        [
            nets.Conv2d(2, 3, 3, input_hw=(6, 6), stride=2, padding=1, key=k1, activation=jnp.tanh),
            nets.Conv2d(3, 4, 2, input_hw=(3, 3), use_bias=False, key=k2, activation=jnp.tanh),
            nets.Flatten(),
            nets.Dense(16, N_CLASSES, key=k3),
        ]
    )


NETS = {
    # name: (constructor(key), input shape of one example)
    "mlp": (make_mlp, (5,)),
    "lenet": (make_lenet, (1, 32, 32)),
    "convnet": (make_convnet, (2, 6, 6)),
}


def make_batch(key, in_shape, batch=3, n_classes=N_CLASSES):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (batch, *in_shape))
    y = jax.random.randint(ky, (batch,), 0, n_classes)
    return x, y


def weights_as_feedback(params) -> tuple:
    """``B_l = W_l`` for every layer: feedback-path rules then equal backprop."""
    return tuple(layer.weight for layer in credax.nets.find_layers(params))


@pytest.fixture
def key():
    return jax.random.key(0)
