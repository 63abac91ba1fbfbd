"""Shared fixtures for the credax test suite.

JAX is put in strict mode here (implicit rank promotion raises), so any hidden broadcasting in the
library fails loudly.

The rule registry is the library's (``credax.registry.RULES``): the contract, learning and error
tests are parametrised over it, so a new rule is tested by adding its line there and giving it the
traits that say what it promises. Tests that hold for every rule whatever its task build batches
of the rule's task (``make_task_batch``); supervised-only properties are parametrised over the
supervised rules. The suite registers rules of its own, an unsupervised one
(``hebb_decay``) and a modulated one (``reward_hebb``), in family ``test``, so that the
task-agnostic tests and the bare ``credax run`` are shown to carry the other tasks.

``SETTINGS`` holds, per rule, the small options the tests use (a learning test in 150 steps),
the options under which it reduces to backprop, and the tolerance of comparisons between two
compilations of the same computation (finite differences amplify rounding by ``1/σ``).
"""

from __future__ import annotations

import dataclasses
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
# The suite compares computations that claim exactness (jit vs eager, vmap vs a loop, feedback
# equal to the weights vs backprop): at full float32 on every backend. On a GPU the default
# float32 matmul is TF32, which would make such comparisons test the arithmetic, not the rules;
# on a CPU this changes nothing. (tests/test_train.py checks that training follows a chosen
# precision and that records are taken at full precision whatever the default.)
jax.config.update("jax_default_matmul_precision", "highest")

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

import credax  # noqa: E402

# --- the suite's own unsupervised rule, registered like any other -----------------------------


def hebb_decay(*, decay: float = 0.5) -> credax.LearningRule:
    """Hebb's rule with weight decay on every credax layer: ``ΔW = ⟨y xᵀ⟩ - λ W``,
    ``Δb = ⟨y⟩ - λ b`` (``y`` each layer's output, ``x`` its input, ``⟨·⟩`` the batch mean);
    ``updates = -ΔW``. A test rule: bounded by its decay, unsupervised, stateless."""

    def update(params, state, batch):
        x = credax.tasks.unsupervised_batch(params, batch)
        t = credax.nets.trace(params, x)
        hebb = credax.nets.local_updates(params, t.inputs, [-h / x.shape[0] for h in t.outputs])

        def add_decay(i, layer):
            return jax.tree.map(
                lambda u, w: u + decay * w, layer, credax.nets.find_layers(params)[i]
            )

        return credax.nets.map_layers(add_decay, hebb), state

    return credax.make_rule(
        "hebb_decay", credax.init_empty, update=update, task=credax.tasks.UNSUPERVISED
    )


def reward_hebb(*, decay: float = 0.5) -> credax.LearningRule:
    """A three-factor rule: Hebb's rule gated by a modulator per example, with weight decay,
    ``ΔW = ⟨m y xᵀ⟩ - λ W`` on every layer (``m`` the batch's modulator, ``()`` or ``(B,)``);
    ``updates = -ΔW``. A test rule of the modulated task."""

    def update(params, state, batch):
        x, m = credax.tasks.modulated_batch(params, batch)
        if m.ndim == 2:
            raise ValueError("reward_hebb: expected a modulator per example, () or (B,)")
        m = jnp.broadcast_to(m, x.shape[:1]).astype(x.dtype)
        t = credax.nets.trace(params, x)
        deltas = [-(m.reshape(-1, *(1,) * (h.ndim - 1)) * h) / x.shape[0] for h in t.outputs]
        hebb = credax.nets.local_updates(params, t.inputs, deltas)
        layers = credax.nets.find_layers(params)
        return credax.nets.map_layers(
            lambda i, u: jax.tree.map(lambda a, w: a + decay * w, u, layers[i]), hebb
        ), state

    return credax.make_rule(
        "reward_hebb", credax.init_empty, update=update, task=credax.tasks.MODULATED
    )


if "test" not in credax.registry.FAMILIES:
    credax.registry.register(credax.registry.Family("test", "rules of the test suite", (0, (1, 1))))
if "hebb_decay" not in credax.registry.RULES:
    credax.registry.register(
        credax.registry.RuleEntry(
            "hebb_decay", hebb_decay, "HebbD", "test", credax.tasks.UNSUPERVISED,
            "Hebb's rule with weight decay (test rule)", "Hebb 1949",
        )
    )  # fmt: skip

if "reward_hebb" not in credax.registry.RULES:
    credax.registry.register(
        credax.registry.RuleEntry(
            "reward_hebb", reward_hebb, "RHebb", "test", credax.tasks.MODULATED,
            "reward-gated Hebb's rule with weight decay (test rule)", "Frémaux & Gerstner 2016",
        )
    )  # fmt: skip

RULES = credax.registry.RULES
RULE_NAMES = list(RULES)


@dataclasses.dataclass(frozen=True)
class Settings:
    options: dict = dataclasses.field(default_factory=dict)
    exact: dict = dataclasses.field(default_factory=dict)
    tolerance: tuple[float, float] = (1e-5, 1e-6)


# Weight-space estimators average 8 draws so that the learning test (1,443 weights, 150 Adam
# steps) passes with a margin; finite differences at σ = 1e-3 turn float rounding (~1e-7) into
# ~1e-4. TP's targets are only as good as its inverses, which must learn as fast as the forward
# weights in 150 steps. The dendritic rules learn from differences of rates, φ(u) - φ(v̂) with
# u - v̂ of the order of the nudging, divided by its gain: float32 rounding of φ (~1e-7) becomes
# ~1e-4 of the update.
SETTINGS = {
    "microcircuit": Settings(
        options={"interneuron_lr": 0.1, "apical_lr": 0.02}, tolerance=(2e-3, 2e-5)
    ),  # interneurons that keep up with Adam 1e-2 on the small nets (the defaults suit wide ones)
    "burstprop": Settings(tolerance=(2e-3, 2e-5)),
    "us": Settings(tolerance=(2e-3, 2e-5)),
    "kp": Settings(options={"feedback_lr": 0.1, "decay": 0.1}, exact={"decay": 0.0}),
    "wm": Settings(options={"mirror_batch": 4}),
    "wp": Settings(options={"n_perturbations": 8}, tolerance=(1e-3, 2e-4)),
    "np": Settings(tolerance=(1e-3, 2e-4)),
    "fg": Settings(options={"n_tangents": 8}),
    "tp": Settings(options={"inverse_optimizer": optax.adam(1e-2)}),
    "tpo": Settings(options={"inverse_optimizer": optax.adam(1e-2)}),
}


def settings(name: str) -> Settings:
    return SETTINGS.get(name, Settings())


def with_trait(trait: str) -> list[str]:
    return [n for n, e in RULES.items() if e.has(trait)]


def with_task(task: str) -> list[str]:
    return [n for n, e in RULES.items() if e.task == task]


SUPERVISED_RULES = with_task(credax.tasks.SUPERVISED)
FEEDBACK_PATH_RULES = with_trait("feedback_path")
SIGN_RULES = with_trait("sign_concordant")
LEARNED_FEEDBACK_RULES = with_trait("learns_feedback")
ESTIMATOR_RULES = with_trait("estimator")
NON_BP_RULES = [n for n in SUPERVISED_RULES if not RULES[n].baseline]
# Rules whose output-layer update is backprop's exactly (supervised, not backprop itself, not
# estimators nor rules that relax the network's activities first).
EXACT_OUTPUT_RULES = [
    n for n in NON_BP_RULES if not any(RULES[n].has(t) for t in ("estimator", "relaxes", "nudged"))
]
# Rules that work on any layered model, and those that need a chain of Dense layers.
# Rules for spiking layers run the contract on a spiking network (``NETS["snn"]``), those for
# first-spike-time layers on a latency network (``NETS["latency"]``), those of firing-rate units
# on the MLP with sigmoid hidden units (``NETS["rates"]``).
OWN_MODEL_TRAITS = ("chain_only", "spiking_only", "latency_only", "nonnegative_rates")
ANY_MODEL_RULES = [n for n in RULES if not any(RULES[n].has(t) for t in OWN_MODEL_TRAITS)]
SPIKING_RULES = with_trait("spiking_only")
CHAIN_RULES = with_trait("chain_only")
# Rules that train a convolutional net with ReLU (LeNet): not those that need a chain of dense
# layers, nor those that need bounded activations.
CONV_RULES = [n for n in ANY_MODEL_RULES if not RULES[n].has("bounded_activation")]

LOSS = credax.losses.softmax_cross_entropy
N_CLASSES = 3


def make_rule(name: str, loss=LOSS, *, exact: bool = False, **overrides) -> credax.LearningRule:
    """The registered rule ``name`` with its test options (and, with ``exact``, the options under
    which it reduces to backprop); ``loss`` only where its task takes one."""
    entry = RULES[name]
    s = settings(name)
    options = {**s.options, **(s.exact if exact else {}), **overrides}
    takes_loss = credax.tasks.TASKS[entry.task].takes_loss
    return entry.make(loss if takes_loss else None, **options)


def make_mlp(key, sizes=(5, 7, 6, N_CLASSES), activation=jnp.tanh):
    return credax.nets.mlp(list(sizes), activation=activation, key=key)


def make_rate_mlp(key, sizes=(5, 7, 6, N_CLASSES)):
    """The MLP with sigmoid hidden units (nonnegative rates) and a linear output layer."""
    return make_mlp(key, sizes, activation=jax.nn.sigmoid)


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


def make_snn(key, sizes=(5, 7, 6, N_CLASSES)):
    """A tiny spiking network taking real inputs (5,): a frozen Poisson encoder, LIF layers and
    a leaky-integrator readout whose maximum over time is the logits."""
    enc = credax.spiking.Encode("poisson", 10, lo=-2.0, hi=2.0, max_rate=500.0)
    return credax.spiking.network(
        list(sizes), 10, key=key, encode=enc, weight_scale=4.0, tau_mem=2.0, tau_syn=None
    )


def home_model(rule_name: str, key, sizes=(5, 7, 6, N_CLASSES)):
    """The model a registry-parametrised test gives ``rule_name``: the MLP, or the spiking
    network of the same sizes for rules of spiking layers."""
    make = {"snn": make_snn, "latency": make_latency, "rates": make_rate_mlp, "mlp": make_mlp}[
        home_net(rule_name)
    ]
    return make(key, sizes)


def make_latency(key, sizes=(5, 7, 6, N_CLASSES)):
    """A tiny time-to-first-spike network taking real inputs (5,) in [-2, 2]."""
    enc = credax.spiking.LatencyEncode(lo=-2.0, hi=2.0)
    return credax.spiking.latency_network(list(sizes), key=key, encode=enc, weight_mean=0.5)


def home_net(rule_name: str) -> str:
    """The net a rule's contract runs on: the spiking one for rules of spiking layers, the
    latency one for rules of first-spike-time layers, else the MLP."""
    if RULES[rule_name].has("spiking_only"):
        return "snn"
    if RULES[rule_name].has("nonnegative_rates"):
        return "rates"
    return "latency" if RULES[rule_name].has("latency_only") else "mlp"


NETS = {
    # name: (constructor(key), input shape of one example)
    "mlp": (make_mlp, (5,)),
    "rates": (make_rate_mlp, (5,)),
    "lenet": (make_lenet, (1, 32, 32)),
    "convnet": (make_convnet, (2, 6, 6)),
    "snn": (make_snn, (5,)),
    "latency": (make_latency, (5,)),
}


def make_batch(key, in_shape, batch=3, n_classes=N_CLASSES):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (batch, *in_shape))
    y = jax.random.randint(ky, (batch,), 0, n_classes)
    return x, y


def make_task_batch(task, key, in_shape, batch=3):
    """A batch of ``task``: ``(x, y)``, ``x``, or ``(x, m)`` with a modulator per example."""
    x, y = make_batch(key, in_shape, batch)
    if task == credax.tasks.SUPERVISED:
        return x, y
    if task == credax.tasks.UNSUPERVISED:
        return x
    return x, jax.random.normal(jax.random.fold_in(key, 1), (batch,))


def rule_batch(name, key, in_shape, batch=3):
    return make_task_batch(RULES[name].task, key, in_shape, batch)


def weights_as_feedback(params) -> tuple:
    """``B_l = W_l`` for every layer: feedback-path rules then equal backprop."""
    return tuple(layer.weight for layer in credax.nets.find_layers(params))


@pytest.fixture
def key():
    return jax.random.key(0)
