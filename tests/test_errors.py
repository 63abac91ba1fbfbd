"""Bad input fails early with an error that says what was expected."""

from __future__ import annotations

import functools
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from conftest import RULE_NAMES, RULES, make_batch, make_mlp, make_rule

import credax

LOSS = credax.losses.softmax_cross_entropy
rules = pytest.mark.parametrize("rule_name", RULE_NAMES)


@functools.cache
def setup(rule_name: str):
    params = make_mlp(jax.random.key(0))  # 5 -> 7 -> 6 -> 3
    rule = make_rule(rule_name)
    return rule, params, rule.init(jax.random.key(1), params)


# --- batches --------------------------------------------------------------------------------------


@rules
def test_wrong_input_shape(rule_name):
    rule, params, state = setup(rule_name)
    x, y = make_batch(jax.random.key(2), (4,))
    with pytest.raises(ValueError, match=re.escape("(B, 5)")):
        rule.update(params, state, (x, y))


@rules
def test_wrong_input_shape_under_jit(rule_name):
    rule, params, state = setup(rule_name)
    x, y = make_batch(jax.random.key(2), (4,))
    with pytest.raises(ValueError, match=re.escape("(B, 5)")):
        jax.jit(rule.update)(params, state, (x, y))


@rules
def test_unbatched_input(rule_name):
    rule, params, state = setup(rule_name)
    with pytest.raises(ValueError, match="shape"):
        rule.update(params, state, (jnp.ones(5), jnp.array(1)))


@rules
def test_labels_out_of_range(rule_name):
    rule, params, state = setup(rule_name)
    x, _ = make_batch(jax.random.key(2), (5,))
    with pytest.raises(ValueError, match=re.escape("[0, 3)")):
        rule.update(params, state, (x, jnp.array([0, 1, 3])))
    with pytest.raises(ValueError, match=re.escape("[0, 3)")):
        rule.update(params, state, (x, jnp.array([0, -1, 2])))


@rules
def test_batch_size_mismatch(rule_name):
    rule, params, state = setup(rule_name)
    x, _ = make_batch(jax.random.key(2), (5,), batch=3)
    with pytest.raises(ValueError, match="same B"):
        rule.update(params, state, (x, jnp.array([0, 1])))


@rules
def test_target_shape_mismatch(rule_name):
    rule, params, state = setup(rule_name)
    x, _ = make_batch(jax.random.key(2), (5,), batch=3)
    with pytest.raises(ValueError, match=re.escape("(3, 3)")):
        rule.update(params, state, (x, jnp.zeros((3, 4))))


@rules
def test_batch_not_a_pair(rule_name):
    rule, params, state = setup(rule_name)
    x, y = make_batch(jax.random.key(2), (5,))
    with pytest.raises(TypeError, match=re.escape("(x, y)")):
        rule.update(params, state, x)
    with pytest.raises(TypeError, match=re.escape("(x, y)")):
        rule.update(params, state, (x, y, y))


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


@rules
def test_params_not_a_credax_model(rule_name):
    rule = make_rule(rule_name)
    params = {"w": jnp.ones((3, 5)), "b": jnp.zeros(3)}
    with pytest.raises(TypeError, match="credax"):
        rule.init(jax.random.key(0), params)
    _, _, state = setup(rule_name)
    with pytest.raises(TypeError, match="credax"):
        rule.update(params, state, make_batch(jax.random.key(2), (5,)))


@pytest.mark.parametrize(
    "rule_name", [n for n, spec in RULES.items() if spec.feedback_path or spec.direct]
)
def test_state_for_another_model(rule_name):
    """A feedback state built for one architecture is refused by another, naming the expected
    shapes. (Sign symmetry rebuilds its feedback from the weights at every update.)"""
    rule, _, state = setup(rule_name)
    other = make_mlp(jax.random.key(0), sizes=(5, 4, 3))
    with pytest.raises(ValueError, match="shape"):
        rule.update(other, state, make_batch(jax.random.key(2), (5,)))


# --- constructor options --------------------------------------------------------------------------


@rules
def test_non_callable_loss(rule_name):
    with pytest.raises(TypeError, match="callable"):
        make_rule(rule_name, "softmax_cross_entropy")


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
