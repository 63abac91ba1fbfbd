"""Shared fixtures for the credax test suite.

JAX is put in strict mode here (implicit rank promotion raises), so any hidden broadcasting in the
library fails loudly.

The rule registry is the library's (``credax.registry.RULES``): the contract, learning and error
tests are parametrised over it, so a new rule is tested by adding its line there and setting the
flags that describe what it promises.
"""

from __future__ import annotations

import os

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

# The rule table is the library's own (credax.registry): a rule registered there is covered by
# every parametrised test here. Each entry carries the flags that say what it promises and the
# small options the tests use (RuleEntry.test_options).
RULES = credax.registry.RULES

RULE_NAMES = list(RULES)
SUPERVISED_RULES = [n for n, e in RULES.items() if e.task == credax.tasks.SUPERVISED]
FEEDBACK_PATH_RULES = [n for n, s in RULES.items() if s.feedback_path]
SIGN_RULES = [n for n, s in RULES.items() if s.sign_concordant]
LEARNED_FEEDBACK_RULES = [n for n, s in RULES.items() if s.learns_feedback]
NON_BP_RULES = [n for n in RULES if n != "bp"]
ESTIMATOR_RULES = [n for n, s in RULES.items() if s.estimator]
# Rules whose output-layer update is backprop's exactly (all but backprop itself, estimators and
# rules that relax the network's activities first).
EXACT_OUTPUT_RULES = [n for n in NON_BP_RULES if not (RULES[n].estimator or RULES[n].relaxes)]
# Rules that work on any layered model, and those that need a chain of Dense layers.
ANY_MODEL_RULES = [n for n, e in RULES.items() if not e.chain_only]
CHAIN_RULES = [n for n, e in RULES.items() if e.chain_only]

LOSS = credax.losses.softmax_cross_entropy
N_CLASSES = 3


def make_rule(name: str, loss=LOSS, *, exact: bool = False, **overrides) -> credax.LearningRule:
    """The registered rule ``name`` with its test options (and, with ``exact``, the options under
    which it reduces to backprop)."""
    entry = RULES[name]
    options = {**entry.test_options, **(entry.exact_options if exact else {}), **overrides}
    return entry.make(loss, **options)


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
