"""Bad input fails early with an error that says what was expected."""

from __future__ import annotations

import functools
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from conftest import (
    RULE_NAMES,
    RULES,
    home_model,
    make_batch,
    make_rule,
    rule_batch,
    with_task,
)

import credax

LOSS = credax.losses.softmax_cross_entropy
rules = pytest.mark.parametrize("rule_name", RULE_NAMES)
supervised = pytest.mark.parametrize("rule_name", with_task(credax.tasks.SUPERVISED))
modulated = pytest.mark.parametrize("rule_name", with_task(credax.tasks.MODULATED))
with_loss = pytest.mark.parametrize(
    "rule_name", [n for n, e in RULES.items() if credax.tasks.TASKS[e.task].takes_loss]
)


@functools.cache
def setup(rule_name: str):
    params = home_model(rule_name, jax.random.key(0))  # 5 -> 7 -> 6 -> 3
    rule = make_rule(rule_name)
    return rule, params, rule.init(jax.random.key(1), params)


# --- batches: every task ----------------------------------------------------------------------


def _with_x(rule_name, x):
    """A batch of the rule's task with inputs ``x``."""
    batch = rule_batch(rule_name, jax.random.key(2), (5,))
    return x if not isinstance(batch, tuple) else (x, batch[1][: x.shape[0]])


def wrong_shape_message(rule_name: str) -> str:
    """The MLP's first layer, or the spiking net's encoder, names the input it expects."""
    return re.escape("expected inputs of shape (B, 5) for this model")


@rules
def test_wrong_input_shape(rule_name):
    rule, params, state = setup(rule_name)
    x = jax.random.normal(jax.random.key(2), (3, 4))
    with pytest.raises(ValueError, match=wrong_shape_message(rule_name)):
        rule.update(params, state, _with_x(rule_name, x))


@rules
def test_wrong_input_shape_under_jit(rule_name):
    rule, params, state = setup(rule_name)
    x = jax.random.normal(jax.random.key(2), (3, 4))
    with pytest.raises(ValueError, match=wrong_shape_message(rule_name)):
        jax.jit(rule.update)(params, state, _with_x(rule_name, x))


@rules
def test_unbatched_input(rule_name):
    rule, params, state = setup(rule_name)
    batch = rule_batch(rule_name, jax.random.key(2), (5,))
    x = jnp.ones(5)
    bad = x if not isinstance(batch, tuple) else (x, batch[1][0])
    with pytest.raises(ValueError, match=r"expected (inputs|x) of shape \(B, (5\) for|\.\.\.\))"):
        rule.update(params, state, bad)


@rules
def test_empty_batch(rule_name):
    rule, params, state = setup(rule_name)
    with pytest.raises(ValueError, match=re.escape("a batch of at least one example, got inputs")):
        rule.update(params, state, _with_x(rule_name, jnp.ones((0, 5))))


# --- batches: supervised and modulated ----------------------------------------------------------


@supervised
def test_labels_out_of_range(rule_name):
    rule, params, state = setup(rule_name)
    x, _ = make_batch(jax.random.key(2), (5,))
    with pytest.raises(ValueError, match=re.escape("labels must lie in [0, 3) for 3 outputs")):
        rule.update(params, state, (x, jnp.array([0, 1, 3])))
    with pytest.raises(ValueError, match=re.escape("labels must lie in [0, 3) for 3 outputs")):
        rule.update(params, state, (x, jnp.array([0, -1, 2])))


@supervised
def test_batch_size_mismatch(rule_name):
    rule, params, state = setup(rule_name)
    x, _ = make_batch(jax.random.key(2), (5,), batch=3)
    with pytest.raises(ValueError, match=re.escape("with the same B, got x (3, 5) and y (2,)")):
        rule.update(params, state, (x, jnp.array([0, 1])))


@supervised
def test_target_shape_mismatch(rule_name):
    rule, params, state = setup(rule_name)
    x, _ = make_batch(jax.random.key(2), (5,), batch=3)
    with pytest.raises(ValueError, match=re.escape("expected targets of shape (3, 3)")):
        rule.update(params, state, (x, jnp.zeros((3, 4))))


@supervised
def test_batch_not_a_pair(rule_name):
    rule, params, state = setup(rule_name)
    x, y = make_batch(jax.random.key(2), (5,))
    with pytest.raises(TypeError, match=re.escape("expected a supervised batch (x, y), got Array")):
        rule.update(params, state, x)
    with pytest.raises(TypeError, match=re.escape("(x, y), got tuple of length 3")):
        rule.update(params, state, (x, y, y))


@modulated
def test_modulator_shape_and_dtype(rule_name):
    rule, params, state = setup(rule_name)
    x, y = make_batch(jax.random.key(2), (5,), batch=3)
    with pytest.raises(ValueError, match=re.escape("modulator m of shape (), (3,) or (3, n)")):
        rule.update(params, state, (x, jnp.ones(2)))
    with pytest.raises(TypeError, match="integer labels are not a modulator"):
        rule.update(params, state, (x, y))
    with pytest.raises(TypeError, match=re.escape("expected a modulated batch (x, m)")):
        rule.update(params, state, x)


def test_lenet_wrong_input_shape():
    params = credax.nets.lenet(key=jax.random.key(0))
    rule = credax.backprop(LOSS)
    x = jnp.ones((2, 1, 28, 28))
    with pytest.raises(ValueError, match=re.escape("(B, 1, 32, 32)")):
        rule.update(params, rule.init(jax.random.key(1), params), (x, jnp.array([0, 1])))


def test_user_model_wrong_input_shape_names_the_layer():
    class Net(eqx.Module):
        layer: credax.nets.Dense

        def __call__(self, x):
            return self.layer(x)

    params = Net(credax.nets.Dense(5, 3, key=jax.random.key(0)))
    rule = credax.feedback_alignment(LOSS)
    x, y = make_batch(jax.random.key(2), (4,))
    with pytest.raises(ValueError, match=re.escape("Dense expects one example of shape (5,)")):
        rule.update(params, rule.init(jax.random.key(1), params), (x, y))


# --- params and states ----------------------------------------------------------------------------


NOT_A_MODEL = "expected params to be a layered credax model .* got dict with no credax layer"


@rules
def test_params_not_a_credax_model(rule_name):
    rule = make_rule(rule_name)
    params = {"w": jnp.ones((3, 5)), "b": jnp.zeros(3)}
    with pytest.raises(TypeError, match=NOT_A_MODEL):
        rule.init(jax.random.key(0), params)
    _, _, state = setup(rule_name)
    with pytest.raises(TypeError, match=NOT_A_MODEL):
        rule.update(params, state, rule_batch(rule_name, jax.random.key(2), (5,)))


def _model_sized_state(name):
    """Whether the rule's state holds arrays shaped by the model (feedback, inverses, traces)."""
    state = make_rule(name).init(0, home_model(name, jax.random.key(0)))
    leaves = jax.tree.leaves(state)
    return any(jnp.ndim(x) for x in leaves if not jnp.issubdtype(x.dtype, jax.dtypes.prng_key))


@pytest.mark.parametrize(
    "rule_name", [n for n in RULE_NAMES if n != "big" and _model_sized_state(n)]
)
def test_state_for_another_model(rule_name):
    """A state built for one architecture is refused by another, naming both. (Every rule's
    update compares the state with what its init makes for the model; BIG, whose inhibition may
    be replaced by any net, checks its feedback networks itself: tests/test_targets.py.)"""
    rule, _, state = setup(rule_name)
    other = home_model(rule_name, jax.random.key(0), sizes=(5, 4, 3))
    match = f"{RULES[rule_name].factory_name}: the rule state does not fit this rule and model"
    with pytest.raises(ValueError, match=match):
        rule.update(other, state, rule_batch(rule_name, jax.random.key(2), (5,)))


@pytest.mark.parametrize("rule_name", RULE_NAMES)
def test_state_of_another_rule(rule_name):
    """A state made by another rule is refused, naming both states' types."""
    rule, params, _ = setup(rule_name)
    donor = "np" if rule_name != "np" else "fa"
    foreign = make_rule(donor).init(0, params)
    with pytest.raises(ValueError, match=f"got {type(foreign).__name__}"):
        rule.update(params, foreign, rule_batch(rule_name, jax.random.key(2), (5,)))


# --- constructor options --------------------------------------------------------------------------


@with_loss
def test_non_callable_loss(rule_name):
    with pytest.raises(TypeError, match="expected loss to be a callable loss"):
        make_rule(rule_name, "softmax_cross_entropy")


@pytest.mark.parametrize("rule_name", [n for n in RULE_NAMES if n not in with_task("supervised")])
def test_a_loss_to_a_rule_without_one(rule_name):
    with pytest.raises(TypeError, match=f"{rule_name} .* is {RULES[rule_name].task}: it takes no"):
        RULES[rule_name].make(credax.losses.mse)


@rules
def test_unknown_option(rule_name):
    with pytest.raises(TypeError, match="learning_rate"):
        make_rule(rule_name, learning_rate=0.1)


@pytest.mark.parametrize(
    "factory, option, value",
    [
        (credax.feedback_alignment, "scale", -1.0),
        (credax.feedback_alignment, "scale", 0.0),
        (credax.direct_feedback_alignment, "scale", -0.5),
        (credax.kolen_pollack, "feedback_lr", -0.1),
        (credax.kolen_pollack, "decay", -0.1),
        (credax.weight_mirror, "feedback_lr", -0.1),
        (credax.weight_mirror, "decay", -1.0),
        (credax.weight_mirror, "noise_std", 0.0),
        (credax.weight_mirror, "mirror_batch", 0),
        (credax.weight_mirror, "mirror_batch", 2.5),
    ],
)
def test_bad_numbers(factory, option, value):
    with pytest.raises(ValueError, match=option):
        factory(LOSS, **{option: value})


def test_non_numeric_option():
    with pytest.raises(TypeError, match="scale"):
        credax.feedback_alignment(LOSS, scale="big")


def test_brsf_redraw_needs_random_magnitude():
    with pytest.raises(ValueError, match="random_magnitude"):
        credax.sign_symmetry(LOSS, redraw=True)


@pytest.mark.parametrize(
    "factory, option",
    [
        (credax.feedback_alignment, "feedback_init"),
        (credax.sign_symmetry, "magnitude_init"),
        (credax.direct_feedback_alignment, "feedback_init"),
        (credax.kolen_pollack, "feedback_init"),
        (credax.weight_mirror, "feedback_init"),
    ],
)
def test_non_callable_initialiser(factory, option):
    with pytest.raises(TypeError, match=option):
        factory(LOSS, **{option: 0.1})


# --- layers and nets ------------------------------------------------------------------------------


def test_lenet_on_28x28_needs_padding():
    with pytest.raises(ValueError, match="does not fit"):
        credax.nets.lenet(key=jax.random.key(0), in_shape=(1, 28, 28))


def test_layer_constructor_errors():
    with pytest.raises(ValueError, match="positive"):
        credax.nets.Dense(0, 3, key=jax.random.key(0))
    with pytest.raises(ValueError, match="at least two"):
        credax.nets.mlp([5], activation=jnp.tanh, key=jax.random.key(0))
    with pytest.raises(ValueError, match="does not fit"):
        credax.nets.Conv2d(1, 2, 5, input_hw=(4, 4), key=jax.random.key(0))


def test_layer_called_on_a_batch():
    layer = credax.nets.Dense(5, 3, key=jax.random.key(0))
    with pytest.raises(ValueError, match="vmap"):
        layer(jnp.ones((2, 5)))
