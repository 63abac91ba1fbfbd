"""Nothing silent: inputs a new user gets wrong end in a clear error before expensive work, or in
correct, documented behaviour. Also the registry, tasks, and what rules report to the engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import warnings

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import (
    LOSS,
    N_CLASSES,
    OWN_MODEL_TRAITS,
    RULE_NAMES,
    RULES,
    home_model,
    make_batch,
    make_mlp,
    make_rule,
    rule_batch,
    with_task,
)
from test_local import OutputFirst

import credax
from credax import nets

# --- keys and network constructors ----------------------------------------------------------------


def test_int_seeds_are_keys_everywhere():
    a = nets.mlp([4, 5, 3], activation=jnp.tanh, key=3)
    b = nets.mlp([4, 5, 3], activation=jnp.tanh, key=jax.random.key(3))
    chex.assert_trees_all_equal(a, b)
    rule = credax.feedback_alignment(LOSS)
    chex.assert_trees_all_equal(rule.init(7, a), rule.init(jax.random.key(7), a))
    nets.Dense(3, 2, key=np.int64(1))
    nets.lenet(key=0)


@pytest.mark.parametrize("bad", ["zero", 1.5, None, [1, 2]])
def test_bad_keys_name_what_was_expected(bad):
    with pytest.raises(TypeError, match="PRNG key .* or an int seed"):
        nets.mlp([4, 3], activation=jnp.tanh, key=bad)
    with pytest.raises(TypeError, match="feedback_alignment init key"):
        credax.feedback_alignment(LOSS).init(bad, make_mlp(jax.random.key(0)))
    with pytest.raises(TypeError, match="PRNG key"):
        credax.train.fit(
            credax.backprop(LOSS), make_mlp, optax.sgd(0.1), key=bad, loss=LOSS,
            train=make_batch(jax.random.key(0), (5,), 8),
            test=make_batch(jax.random.key(0), (5,), 8),
            epochs=1, batch_size=4,
        )  # fmt: skip


@pytest.mark.parametrize(
    "sizes, error, match",
    [
        ([40, 16.7, 10], TypeError, "mlp size 1 to be a positive int, got 16.7"),
        ([40, 0, 10], ValueError, "mlp size 1 to be a positive int"),
        ([40, True, 10], TypeError, "mlp size 1"),
        ([40], ValueError, "at least two positive sizes"),
        ("40-10", TypeError, "sequence of layer sizes"),
    ],
)
def test_mlp_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        nets.mlp(sizes, activation=jnp.tanh, key=0)


def test_string_activation_fails_at_construction():
    with pytest.raises(TypeError, match="activation to be a callable .* got the string 'tanh'"):
        nets.mlp([4, 5, 3], activation="tanh", key=0)
    with pytest.raises(TypeError, match="activation"):
        nets.Conv2d(1, 2, 3, input_hw=(5, 5), key=0, activation=3)


def test_layer_option_types():
    with pytest.raises(TypeError, match="in_features"):
        nets.Dense(2.5, 3, key=0)
    with pytest.raises(ValueError, match="stride"):
        nets.Conv2d(1, 2, 3, input_hw=(8, 8), stride=0, key=0)
    with pytest.raises(ValueError, match="padding"):
        nets.Conv2d(1, 2, 3, input_hw=(8, 8), padding=-1, key=0)


# --- make_fit: data checked before compilation ----------------------------------------------------


def _data(n=64, d=5, k=N_CLASSES):
    x = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    return x, (np.arange(n) % k).astype(np.int32)


def _make_fit(**kw):
    x, y = _data()
    args = dict(loss=LOSS, train=(x, y), test=(x, y), epochs=1, batch_size=16)
    args.update(kw)
    return credax.train.make_fit(credax.backprop(LOSS), make_mlp, optax.sgd(0.1), **args)


@pytest.mark.parametrize("which", ["train", "test"])
@pytest.mark.parametrize("label", [3, -1])
def test_labels_out_of_range_are_refused(which, label):
    x, y = _data()
    y = y.copy()
    y[5] = label
    with pytest.raises(ValueError, match=rf"{which} targets: .*labels must lie in \[0, 3\)"):
        _make_fit(**{which: (x, y)})


def test_inputs_that_do_not_fit_the_model_are_refused():
    x, y = _data(d=4)
    with pytest.raises(ValueError, match=re.escape("train inputs of shape (64, 4) do not fit")):
        _make_fit(train=(x, y), test=_data())


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs >= 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"eval_every": 0}, ValueError, "eval_every >= 1"),
        ({"eval_every": 3}, ValueError, "eval_every must divide the 4"),
        ({"diverge_factor": 1.0}, ValueError, "diverge_factor > 1"),
        ({"diverge_factor": float("nan")}, ValueError, "diverge_factor to be a finite"),
        ({"loss": None}, TypeError, "needs loss"),
        ({"test": (np.ones((4, 5)), np.zeros(3, np.int32))}, ValueError, "same number of examples"),
        ({"train": (np.ones((4, 5)), np.zeros(4, np.int32))}, ValueError, "exceeds the 4"),
        ({"steps_per_epoch": 3}, ValueError, "steps_per_epoch is for sampled"),
    ],
)
def test_make_fit_options(kw, error, match):
    with pytest.raises(error, match=match):
        _make_fit(**kw)


def test_a_loss_that_grows_but_stays_finite_counts_as_diverged():
    """SGD too fast for the linear teacher: the loss grows about 5x a step and overflows only
    after some 50 steps; a factor of 100 flags it within a few steps, None only at the overflow."""
    sample = credax.data.linear_teacher(jax.random.key(0), 5, 2)[1]
    test = sample(jax.random.key(1), 32)
    steps = {}
    for factor in (100.0, None):
        fit = credax.train.make_fit(
            credax.backprop(credax.losses.mse),
            lambda k: nets.mlp([5, 2], activation=nets.identity, key=k),
            optax.sgd(3.0),  # the curvature of ½‖Wx - y‖² with x ~ N(0, I) is about 1
            loss=credax.losses.mse, train=sample, test=test, epochs=1, batch_size=64,
            steps_per_epoch=200, diverge_factor=factor,
        )  # fmt: skip
        steps[factor] = int(credax.train.sweep(fit, 0, 1).diverged_step[0])
    assert 0 < steps[100.0] < 10 < 40 < steps[None], steps


# --- DFA finds the output layer by the call order -------------------------------------------------


def test_dfa_on_a_model_that_declares_its_output_layer_first():
    params = OutputFirst(jax.random.key(0))
    batch = make_batch(jax.random.key(1), (5,))
    rule = credax.direct_feedback_alignment(LOSS)
    state = rule.init(2, params)
    assert [b.shape for b in state.feedback] == [(N_CLASSES, 6)]  # the hidden layer only
    g, _ = jax.jit(rule.update)(params, state, batch)
    # The output layer's update is backprop's; with B = W_out the hidden one is too.
    ref = jax.grad(lambda p: LOSS(jax.vmap(p)(batch[0]), batch[1]))(params)
    chex.assert_trees_all_close(g.out, ref.out, rtol=1e-5, atol=1e-7)
    exact = state._replace(feedback=(params.out.weight,))
    chex.assert_trees_all_close(rule.update(params, exact, batch)[0], ref, rtol=1e-5, atol=1e-7)


def test_dfa_needs_a_vector_output_layer():
    k1 = jax.random.key(0)
    params = nets.Sequential([nets.Conv2d(1, 2, 3, input_hw=(4, 4), key=k1), nets.Flatten()])
    with pytest.raises(ValueError, match=re.escape("needs an output layer with a vector output")):
        credax.direct_feedback_alignment(LOSS).init(0, params)


# --- arrays outside credax layers -----------------------------------------------------------------


class Mixed(eqx.Module):
    """A credax net with a plain equinox Linear and a learned scale between its layers."""

    inp: nets.Dense
    plain: eqx.nn.Linear
    scale: jax.Array
    out: nets.Dense

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.inp = nets.Dense(5, 6, key=k1, activation=jnp.tanh)
        self.plain = eqx.nn.Linear(6, 6, key=k2)
        self.scale = jnp.array(1.5)
        self.out = nets.Dense(6, N_CLASSES, key=k3)

    def __call__(self, x):
        return self.out(self.scale * jnp.tanh(self.plain(self.inp(x))))


# Rules of spiking layers refuse models with other layers (tests/test_spiking.py and theirs).
@pytest.mark.parametrize(
    "rule_name",
    [r for r in RULE_NAMES if not any(RULES[r].has(t) for t in OWN_MODEL_TRAITS)],
)
def test_arrays_outside_credax_layers_are_constants_to_every_rule_but_backprop(rule_name):
    params = Mixed(jax.random.key(0))
    batch = rule_batch(rule_name, jax.random.key(1), (5,))
    rule = make_rule(rule_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state = rule.init(2, params)
    foreign = [".plain.weight", ".plain.bias", ".scale"]
    assert nets.foreign_arrays(params) == foreign
    g, _ = jax.jit(rule.update)(params, state, batch)
    chex.assert_trees_all_equal_shapes_and_dtypes(g, params)
    if rule_name == "bp":
        assert not caught  # backprop trains everything, exactly
        assert np.any(g.plain.weight) and float(g.scale) != 0
    else:
        assert any(".plain.weight" in str(w.message) for w in caught), caught
        assert not np.any(g.plain.weight) and not np.any(g.plain.bias) and float(g.scale) == 0
        # every rule trains some credax layer (intrinsic plasticity only the bounded tanh one)
        assert np.any(g.out.weight) or np.any(g.inp.weight)


# --- low precision and tied weights ---------------------------------------------------------------


@pytest.mark.parametrize("rule_name", ["wp", "np"])
def test_finite_difference_rules_work_in_bfloat16(rule_name):
    """bfloat16 rounds a σ = 1e-3 perturbation away; these rules evaluate in float32, so their
    bfloat16 updates are those of the float32 model (same draws), rounded."""
    k1, k2 = jax.random.split(jax.random.key(0))
    p16 = nets.Sequential(
        [
            nets.Dense(5, 7, key=k1, activation=jnp.tanh, dtype=jnp.bfloat16),
            nets.Dense(7, N_CLASSES, key=k2, dtype=jnp.bfloat16),
        ]
    )
    p32 = jax.tree.map(lambda a: a.astype(jnp.float32), p16)
    x, y = make_batch(jax.random.key(1), (5,))
    rule = make_rule(rule_name)
    g16, _ = rule.update(p16, rule.init(3, p16), (x.astype(jnp.bfloat16), y))
    g32, _ = rule.update(p32, rule.init(3, p32), (x.astype(jnp.bfloat16).astype(jnp.float32), y))
    chex.assert_trees_all_equal_shapes_and_dtypes(g16, p16)
    for a, b in zip(jax.tree.leaves(g16), jax.tree.leaves(g32), strict=True):
        assert float(jnp.linalg.norm(a.astype(jnp.float32))) > 0
        np.testing.assert_allclose(a.astype(jnp.float32), b, rtol=2e-2, atol=1e-2)


class Tied(eqx.Module):
    hidden: nets.Dense
    out: nets.Dense

    def __call__(self, x):
        return self.out(self.hidden(self.hidden(x)))


@pytest.mark.parametrize(
    "rule_name, options", [("np", {"antithetic": True}), ("fga", {}), ("agrel", {"signed": True})]
)
def test_a_layer_applied_twice_is_perturbed_at_each_application(rule_name, options):
    """A layer applied twice per example (tied weights) is one set of parameters used at two
    steps: unit-perturbation rules perturb both applications and sum their updates, so their mean
    over draws is the gradient of the shared weights (perturbing one application would leave
    out half of it)."""
    k1, k2 = jax.random.split(jax.random.key(0))
    params = Tied(nets.Dense(5, 5, key=k1, activation=jnp.tanh), nets.Dense(5, N_CLASSES, key=k2))
    batch = make_batch(jax.random.key(1), (5,), batch=4)
    rule = make_rule(rule_name, **options)
    stats = jax.jit(
        lambda k: credax.metrics.estimator_statistics(
            rule, params, batch, key=k, n_draws=2048, loss=LOSS
        )
    )(jax.random.key(3))
    assert float(stats.relative_error) < 0.25, stats.relative_error


# --- registry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, key",
    [("fa", "fa"), ("FA", "fa"), ("feedback_alignment", "fa"), ("sign_symmetry", "usf"),
     ("FG-A", "fga"), ("forward_gradient", "fg"), ("REINFORCE", "reinforce")],
)  # fmt: skip
def test_registry_lookup_by_any_name(name, key):
    assert credax.registry.lookup(name).name == key


def test_families_have_their_own_line_styles():
    families = list(credax.registry.FAMILIES.values())
    assert len({repr(f.linestyle) for f in families}) == len(families)
    with pytest.raises(ValueError, match="needs a line style of its own"):
        credax.registry.register(credax.registry.Family("other", "x", families[0].linestyle))
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        credax.registry.RuleEntry("x", credax.backprop, "X", "nope", "supervised", "d", "r")
    with pytest.raises(ValueError, match="unknown traits"):
        credax.registry.RuleEntry(
            "x", credax.backprop, "X", "feedback", "supervised", "d", "r", traits={"fast"}
        )
    with pytest.raises(ValueError, match="is taken"):
        credax.registry.register(RULES["fa"])


def test_registry_unknown_and_task():
    with pytest.raises(ValueError, match="unknown rule 'nope'; expected one of bp, fa"):
        credax.registry.lookup("nope")
    with pytest.raises(TypeError, match="supervised: pass a loss"):
        credax.registry.lookup("fa").make()


@pytest.mark.parametrize("rule_name", RULE_NAMES)
def test_registered_diagnostics_are_what_the_rule_reports(rule_name):
    entry = RULES[rule_name]
    params = home_model(rule_name, jax.random.key(0))
    batch = rule_batch(rule_name, jax.random.key(1), (5,))
    rule = make_rule(rule_name)
    state = rule.init(0, params)
    assert tuple(rule.diagnostics(params, state, batch)) == entry.diagnostics
    assert rule.task == entry.task  # the registry and the rule agree on the batches it takes


@pytest.mark.parametrize("rule_name", with_task(credax.tasks.SUPERVISED))
def test_value_is_the_batch_loss(rule_name):
    """What a rule reports as its value is the loss of the batch (for REINFORCE, of its noisy
    network, whose expected loss it descends; for a rule with ``predict``, of the outputs it
    predicts); its updates equal those of ``update``."""
    params = home_model(rule_name, jax.random.key(0))
    x, y = make_batch(jax.random.key(1), (5,))
    rule = make_rule(rule_name)
    state = rule.init(0, params)
    g, s, value = jax.jit(rule.update_with_value)(params, state, (x, y))
    g2, _ = jax.jit(rule.update)(params, state, (x, y))
    chex.assert_trees_all_close(g, g2, rtol=1e-5, atol=1e-6)
    out = rule.predict(params, x)  # the feedforward pass unless the rule has its own
    if rule_name != "reinforce":
        np.testing.assert_allclose(value, LOSS(out, y), rtol=1e-5)
    else:
        assert np.isfinite(value) and float(value) != float(LOSS(jax.vmap(params)(x), y))


# --- tasks ----------------------------------------------------------------------------------------


def test_tasks_check_their_batches():
    params = make_mlp(jax.random.key(0))
    x = jnp.ones((4, 5))
    assert credax.tasks.unsupervised_batch(params, x).shape == (4, 5)
    assert credax.tasks.unsupervised_batch(params, (x, jnp.zeros(4))).shape == (4, 5)
    for m in (jnp.float32(1.0), jnp.ones(4), jnp.ones((4, 3))):
        credax.tasks.modulated_batch(params, (x, m))
    with pytest.raises(ValueError, match=re.escape("modulator m of shape (), (4,) or (4, n)")):
        credax.tasks.modulated_batch(params, (x, jnp.ones(3)))
    with pytest.raises(TypeError, match=re.escape("modulated batch (x, m)")):
        credax.tasks.modulated_batch(params, x)
    with pytest.raises(ValueError, match=re.escape("(B, 5)")):
        credax.tasks.unsupervised_batch(params, jnp.ones((4, 6)))
    with pytest.raises(TypeError, match=re.escape("supervised batch (x, y)")):
        credax.tasks.supervised_batch(params, x)
    with pytest.raises(TypeError, match="expected the modulator m to be an array, got str"):
        credax.tasks.modulated_batch(params, (x, "reward"))
    with pytest.raises(TypeError, match="integer labels are not a modulator"):
        credax.tasks.modulated_batch(params, (x, jnp.zeros(4, jnp.int32)))


def test_unsupervised_evaluation_through_make_fit():
    """The engine knows no task: an evaluate of the user's own over unsupervised data, with a
    rule made by make_rule that reports no value: no training loss is recorded, neither a zero
    nor the loss of some other objective."""
    x, _ = _data()

    def evaluate(params, rule_state, test, probe):
        return {"mean_output": jnp.mean(jax.vmap(params)(test))}

    zero = credax.make_rule(
        "zero", credax.init_empty, update=lambda p, s, b: (jax.tree.map(jnp.zeros_like, p), s)
    )  # learns nothing, reports nothing
    assert zero.update_with_value(make_mlp(jax.random.key(0)), (), x)[2] is None
    fit = credax.train.make_fit(
        zero, make_mlp, optax.sgd(0.1), train=x, test=x[:16], evaluate=evaluate, epochs=2,
        batch_size=16,
    )  # fmt: skip
    res = credax.train.sweep(fit, 0, 2)
    assert set(res.history) == {"mean_output", "finite"}
    assert np.all(res.history.mean_output[:, 0] == res.history.mean_output[:, -1])
    with pytest.raises(AttributeError, match="no record 'test_accuracy'"):
        _ = res.history.test_accuracy


def test_a_rule_without_objective_that_blows_up_is_flagged():
    """Non-finite weights from a rule that reports no value: ``diverged_step`` names the step
    (before, a rule without value recorded a loss of 0 and never diverged)."""
    x, _ = _data()

    def update(params, state, batch):  # an update that turns non-finite at the third step
        bad = jnp.where(state[0] >= 2, jnp.inf, 0.0)
        return jax.tree.map(lambda w: jnp.full_like(w, bad), params), (state[0] + 1,)

    rule = credax.make_rule("blowup", lambda k, p: (jnp.zeros((), jnp.int32),), update=update)
    fit = credax.train.make_fit(
        rule, make_mlp, optax.sgd(0.1), train=x, test=x[:16], epochs=1, batch_size=16,
        diverge_factor=None,
    )  # fmt: skip
    res = credax.train.sweep(fit, 0, 1)
    assert int(res.diverged_step[0]) == 2
    assert "train_loss" not in res.history and not res.history.finite[0, -1]


@pytest.mark.parametrize("name", ["train_loss", "finite"])
def test_evaluate_may_not_take_the_engines_record_names(name):
    x, y = _data()
    fit = credax.train.make_fit(
        credax.backprop(LOSS), make_mlp, optax.sgd(0.1), train=(x, y), test=(x, y), epochs=1,
        batch_size=16, evaluate=lambda params, state, test, probe: {name: jnp.float32(0.0)},
    )  # fmt: skip
    with pytest.raises(ValueError, match=f"evaluate returned the record name.*{name}"):
        credax.train.sweep(fit, 0, 1)


# --- sweeps: kept programs, any seed count --------------------------------------------------------


def test_a_second_sweep_does_not_compile_again():
    traces = []

    def init(key):
        traces.append(None)
        return make_mlp(key)

    x, y = _data()
    fit = credax.train.make_fit(
        credax.backprop(LOSS), init, optax.sgd(0.1), loss=LOSS, train=(x, y), test=(x, y),
        epochs=1, batch_size=16,
    )  # fmt: skip
    n0 = len(traces)  # make_fit traces init once for shapes
    a = credax.train.sweep(fit, 0, 3)
    n1 = len(traces)
    b = credax.train.sweep(fit, 0, 3)
    c = credax.train.sweep(fit, 1, 3)
    assert n1 > n0 and len(traces) == n1  # neither the second nor the third call retraced
    np.testing.assert_array_equal(a.history.test_loss, b.history.test_loss)
    assert not np.array_equal(a.history.test_loss, c.history.test_loss)


def test_any_seed_count_on_several_devices():
    """3 and 5 seeds on 2 (and 8) forced host devices: padded, then dropped; the numbers equal
    those of one device."""
    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np, optax, credax
        assert jax.device_count() == 8
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 6)).astype(np.float32); y = x[:, :3].argmax(1).astype(np.int32)
        L = credax.losses.softmax_cross_entropy
        fit = credax.train.make_fit(credax.feedback_alignment(L),
            lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k), optax.adam(1e-2),
            loss=L, train=(x, y), test=(x, y), epochs=2, batch_size=16, probe_size=16)
        worst = 0.0
        for n, devs in ((3, 2), (5, 8), (3, 8)):
            a = credax.train.sweep(fit, 0, n, devices=jax.devices()[:devs])
            b = credax.train.sweep(fit, 0, n, devices=jax.devices()[:1])
            assert a.history.test_loss.shape == (n, 3), a.history.test_loss.shape
            worst = max(worst, float(np.abs(a.history.test_loss - b.history.test_loss).max()))
        print(worst)
        """
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-5


def test_evaluate_must_return_named_records():
    x, y = _data()
    fit = credax.train.make_fit(
        credax.backprop(LOSS), make_mlp, optax.sgd(0.1), train=(x, y), test=x[:16], epochs=1,
        batch_size=16, evaluate=lambda params, state, test, probe: jnp.mean(test),
    )  # fmt: skip
    with pytest.raises(TypeError, match="return a dict of named arrays, got"):
        credax.train.sweep(fit, 0, 1)


# --- values that shapes do not show -----------------------------------------------------------


def test_soft_targets_must_be_distributions():
    logits = jnp.zeros((2, 3))
    ok = jnp.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    assert np.isfinite(float(LOSS(logits, ok)))
    for bad in ([[0.5, 0.6, 0.0], [1.0, 0.0, 0.0]], [[-0.5, 1.5, 0.0], [1.0, 0.0, 0.0]]):
        with pytest.raises(ValueError, match="soft targets that are distributions"):
            LOSS(logits, jnp.array(bad))


def test_checked_batches_concrete_and_under_checkify():
    from jax.experimental import checkify

    params = make_mlp(jax.random.key(0))
    x = jnp.ones((3, 5))
    with pytest.raises(ValueError, match=re.escape("labels must lie in [0, 3)")):
        credax.tasks.check(params, (x, jnp.array([0, 1, 3])))
    with pytest.raises(ValueError, match="expected finite inputs x"):
        credax.tasks.check(params, (x.at[0, 0].set(jnp.nan), jnp.array([0, 1, 2])))
    with pytest.raises(ValueError, match="expected a finite modulator m"):
        credax.tasks.check(params, (x, jnp.array([0.0, jnp.inf, 1.0])), task="modulated")
    with pytest.raises(ValueError, match="soft targets that are distributions"):
        credax.tasks.check(params, (x, jnp.full((3, 3), 0.5)), loss=LOSS)
    rule = credax.feedback_alignment(LOSS)
    state = rule.init(0, params)

    def step(params, state, batch):
        return rule.update(params, credax.tasks.check(params, batch) and state, batch)

    err, _ = jax.jit(checkify.checkify(step))(params, state, (x, jnp.array([0, 1, 7])))
    assert "labels must lie in [0, 3)" in str(err.get()) and "[0, 7]" in str(err.get())
    err, _ = jax.jit(checkify.checkify(step))(params, state, (x, jnp.array([0, 1, 2])))
    assert err.get() is None


def test_make_fit_refuses_non_finite_data_and_bad_callables():
    x, y = _data()
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("expected finite test data, found 1 NaN")):
        _make_fit(test=(bad, y))
    with pytest.raises(ValueError, match=re.escape("expected finite train data")):
        _make_fit(train=(bad, y))
    with pytest.raises(TypeError, match="init_model.key. to return a layered credax model.*array"):
        credax.train.make_fit(
            credax.backprop(LOSS), lambda k: jnp.ones(3), optax.sgd(0.1), loss=LOSS,
            train=(x, y), test=(x, y), epochs=1, batch_size=16,
        )  # fmt: skip
    with pytest.raises(TypeError, match="expected init_model to take 1 argument"):
        credax.train.make_fit(
            credax.backprop(LOSS), lambda: make_mlp(0), optax.sgd(0.1), loss=LOSS,
            train=(x, y), test=(x, y), epochs=1, batch_size=16,
        )  # fmt: skip
    with pytest.raises(TypeError, match="expected evaluate to take 4 argument"):
        _make_fit(evaluate=lambda params, state: {})
    fit = _make_fit(evaluate=lambda params, state, test, probe: {"note": "fine"})
    with pytest.raises(TypeError, match="evaluate's record 'note' to be a numeric array, got str"):
        credax.train.sweep(fit, 0, 1)


def test_mask_inputs_name_what_was_expected():
    params = make_mlp(jax.random.key(0))
    bp = credax.backprop(LOSS)
    with pytest.raises(TypeError, match="layer_mask: expected a layer index, .* got 1.0"):
        nets.layer_mask(params, 1.0)
    with pytest.raises(TypeError, match="layer_mask's which to take 2 argument"):
        nets.layer_mask(params, lambda i: True)
    with pytest.raises(TypeError, match="mask function to take 1 argument"):
        credax.masked(bp, lambda: None)
    with pytest.raises(TypeError, match="expected a mask of bools .* found a leaf 1"):
        credax.masked(bp, jax.tree.map(lambda w: 1, params))
    with pytest.raises(ValueError, match=re.escape("parameter's shape (7, 5), got shape (7,)")):
        credax.masked(bp, jax.tree.map(lambda w: jnp.ones(w.shape[:1], bool), params)).init(
            0, params
        )
    with pytest.raises(ValueError, match="expected a mask with params' structure"):
        credax.masked(bp, True).init(0, params)


@pytest.mark.parametrize("flag", ["random_magnitude", "redraw"])
def test_sign_symmetry_flags_are_bools(flag):
    with pytest.raises(TypeError, match=f"expected {flag} to be True or False, got 'no'"):
        credax.sign_symmetry(LOSS, **{flag: "no"})


def test_an_unbatched_input_says_the_batch_axis_is_missing():
    params = make_mlp(jax.random.key(0))
    with pytest.raises(ValueError, match="is its batch axis missing"):
        nets.trace(params, jnp.ones(5))
    with pytest.raises(ValueError, match="is its batch axis missing"):
        credax.equilibrium_propagation(LOSS).predict(params, jnp.ones(5))


@pytest.mark.parametrize("rule_name", ["fa", "dfa", "np"])
def test_integer_inputs_are_cast(rule_name):
    """uint8 images, as users load them: cast to the model's dtype, same updates as floats."""
    params = make_mlp(jax.random.key(0))
    x = np.random.default_rng(0).integers(0, 255, (4, 5)).astype(np.uint8)
    y = jnp.array([0, 1, 2, 0])
    rule = make_rule(rule_name)
    state = rule.init(0, params)
    g_int, _ = rule.update(params, state, (x, y))
    g_float, _ = rule.update(params, state, (x.astype(np.float32), y))
    chex.assert_trees_all_close(g_int, g_float, rtol=1e-6)
    fit = credax.train.make_fit(
        rule, make_mlp, optax.sgd(1e-4), loss=LOSS, train=(x, y), test=(x, y), epochs=1,
        batch_size=2,
    )  # fmt: skip
    assert np.isfinite(credax.train.sweep(fit, 0, 1).history.test_loss).all()


def test_relaxations_that_run_away_count_as_divergence():
    """Predictive coding with too fast an inference rate, and equilibrium propagation with ReLU
    hidden layers (its energy has no minimum): the value is inf, the run diverged at its first
    step, and the settling record says why; at the defaults, neither."""
    x, y = _data()
    runs = {
        "pc": (credax.predictive_coding(LOSS), jnp.tanh),
        "pc_fast": (credax.predictive_coding(LOSS, inference_rate=50.0), jnp.tanh),
        "ep": (credax.equilibrium_propagation(LOSS), jnp.tanh),
        "ep_relu": (credax.equilibrium_propagation(LOSS), jax.nn.relu),
    }
    out = {}
    for name, (rule, act) in runs.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = credax.train.make_fit(
                rule, lambda k, act=act: make_mlp(k, activation=act), optax.adam(1e-3),
                loss=LOSS, train=(x, y), test=(x, y), epochs=1, batch_size=16,
            )  # fmt: skip
            res = credax.train.sweep(fit, 0, 1)
        out[name] = (int(res.diverged_step[0]), float(res.history.settle_ratio[0, 0]), caught)
    assert out["pc"][0] == -1 and out["pc"][1] < 1 and out["ep"][0] == -1 and out["ep"][1] < 1
    assert out["pc_fast"][0] == 0 and not np.isfinite(out["pc_fast"][1])
    assert out["ep_relu"][0] == 0 and out["ep_relu"][1] > 1
    assert any("activation is unbounded" in str(w.message) for w in out["ep_relu"][2])
    assert not any("unbounded" in str(w.message) for w in out["ep"][2])
