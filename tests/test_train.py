"""credax.train: one compiled program over steps, seeds and feedback draws."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credax
from credax import train

LOSS = credax.losses.softmax_cross_entropy


def _data(n=96, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, :k].argmax(1)).astype(np.int32)
    return x, y


def _run(rule=None, *, epochs=2, eval_every=None, opt=None, **kw):
    x, y = _data()
    return train.make_fit(
        rule or credax.feedback_alignment(LOSS),
        lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k),
        opt or optax.adam(1e-2),
        loss=LOSS,
        train=(x, y),
        test=(x[:32], y[:32]),
        epochs=epochs,
        batch_size=16,
        eval_every=eval_every,
        probe_size=16,
        **kw,
    )


def test_history_shapes_and_eval_steps():
    run = _run(eval_every=3)  # 6 steps per epoch, 2 epochs -> 4 records + the initial one
    res = train.sweep(run, 0, 2, n_draws=3)
    assert run.eval_steps == (0, 3, 6, 9, 12)
    assert res.history.test_accuracy.shape == (2, 3, 5)
    assert res.history.update_angles.shape == (2, 3, 5, 2)
    assert res.diverged_step.shape == (2, 3)
    assert np.all(res.diverged_step == -1)
    assert np.isnan(res.history.train_loss[..., 0]).all()
    assert np.isfinite(res.history.train_loss[..., 1:]).all()


def test_records_without_angles_train_the_same():
    on = train.sweep(_run(eval_every=3), 0, 2)
    off = train.sweep(_run(eval_every=3, angles=False), 0, 2)
    assert np.isfinite(on.history.update_angles).all()
    assert np.isnan(off.history.update_angles).all() and np.isnan(off.history.feedback_angles).all()
    assert off.history.update_angles.shape == on.history.update_angles.shape
    for a, b in zip(jax.tree_util.tree_leaves(on.params), jax.tree_util.tree_leaves(off.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(on.history.test_loss, off.history.test_loss, rtol=1e-6)


def test_fit_is_one_seed_of_make_fit():
    x, y = _data()
    kw = dict(loss=LOSS, train=(x, y), test=(x[:32], y[:32]), epochs=2, batch_size=16)
    rule = credax.feedback_alignment(LOSS)
    init = lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k)  # noqa: E731
    res = train.fit(rule, init, optax.adam(1e-2), key=3, **kw)
    run = train.make_fit(rule, init, optax.adam(1e-2), **kw)
    ref = jax.jit(run.run)(*jax.random.split(jax.random.key(3), 3))
    assert res.history.test_loss.shape == (3,)
    np.testing.assert_allclose(res.history.test_loss, ref.history.test_loss, rtol=1e-6)
    assert res.history.test_loss[-1] < res.history.test_loss[0]
    with pytest.raises(TypeError, match="key"):
        train.fit(rule, init, optax.adam(1e-2), key="zero", **kw)


def test_eval_every_must_divide_the_steps():
    with pytest.raises(ValueError, match="eval_every"):
        _run(eval_every=5)  # 12 steps


def test_records_need_not_align_with_epochs():
    """Records every 4 steps of 6-step epochs: the same training as records every epoch."""
    a = train.sweep(_run(eval_every=4), 0, 2)
    b = train.sweep(_run(eval_every=6), 0, 2)
    assert a.history.test_loss.shape == (2, 4) and b.history.test_loss.shape == (2, 3)
    np.testing.assert_allclose(a.history.test_loss[:, -1], b.history.test_loss[:, -1], rtol=1e-5)
    np.testing.assert_allclose(a.history.test_loss[:, 0], b.history.test_loss[:, 0], rtol=1e-6)


def test_sweep_equals_a_loop_over_seeds():
    run = _run()
    res = train.sweep(run, 0, 3)
    ki, kr, kd = train.sweep_keys(0, 3, 1)
    single = jax.jit(run.run)
    for s in range(3):
        one = single(ki[s], kr[0], kd[s])
        np.testing.assert_allclose(
            res.history.test_loss[s], np.asarray(one.history.test_loss), rtol=1e-5, atol=1e-6
        )


def test_seed_and_draw_axes_are_separate():
    res = train.sweep(_run(), 0, 2, n_draws=2)
    acc0 = res.history.test_loss[..., 0]  # before training: depends on the init seed only
    assert acc0[0, 0] == acc0[0, 1] and acc0[1, 0] == acc0[1, 1]
    assert acc0[0, 0] != acc0[1, 0]
    final = res.history.test_loss[..., -1]
    assert final[0, 0] != final[0, 1]  # another feedback draw trains differently


def test_seed_blocks_give_the_same_numbers():
    run = _run()
    a = train.sweep(run, 0, 4)
    b = train.sweep(run, 0, 4, seed_block=1)
    np.testing.assert_allclose(a.history.test_loss, b.history.test_loss, rtol=1e-5, atol=1e-6)


def _teacher_run(opt, epochs=3):
    sample = credax.data.linear_teacher(jax.random.key(0), 5, 2)[1]
    x_test, y_test = sample(jax.random.key(1), 64)
    return train.make_fit(
        credax.feedback_alignment(credax.losses.mse),
        lambda k: credax.nets.mlp([5, 8, 2], activation=credax.nets.identity, key=k),
        opt,
        loss=credax.losses.mse,
        train=sample,
        test=(x_test, y_test),
        epochs=epochs,
        batch_size=16,
        steps_per_epoch=50,
        classification=False,
    )


def test_divergence_is_recorded_with_its_step():
    res = train.sweep(_teacher_run(optax.sgd(50.0)), 0, 2)
    assert np.all(res.diverged_step > 0)  # the first step's loss is finite
    assert np.all(res.diverged_step < 150)
    assert not res.history.finite[:, -1].any()
    assert np.all(res.history.finite[:, 0])


def test_sampler_training_data():
    res = train.sweep(_teacher_run(optax.sgd(0.05)), 0, 2)
    loss = res.history.test_loss
    assert np.all(res.diverged_step == -1)
    assert np.all(loss[:, -1] < 0.5 * loss[:, 0])


def test_sharded_sweep_matches_unsharded():
    """Two forced host devices: the seed axis is sharded, the numbers do not change."""
    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np, optax, credax
        from credax import train
        assert jax.device_count() == 2, jax.devices()
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 6)).astype(np.float32); y = x[:, :3].argmax(1).astype(np.int32)
        L = credax.losses.softmax_cross_entropy
        run = train.make_fit(credax.feedback_alignment(L),
            lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k), optax.adam(1e-2),
            loss=L, train=(x, y), test=(x, y), epochs=2, batch_size=16, probe_size=16)
        a = train.sweep(run, 0, 4, n_draws=2)
        b = train.sweep(run, 0, 4, n_draws=2, devices=jax.devices()[:1])
        print(float(np.abs(a.history.test_loss - b.history.test_loss).max()))
        """
    )
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-5


def test_training_data_is_an_argument_not_a_constant():
    """The sweep passes the data to the compiled program: the data arrays are the program's
    arguments, and the program does not grow with the dataset (closed-over arrays would be
    embedded as constants, a program text growing with every example)."""

    def text(n):
        x, y = _data(n=n)
        run = train.make_fit(
            credax.feedback_alignment(LOSS),
            lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k),
            optax.adam(1e-2), loss=LOSS, train=(x, y), test=(x[:32], y[:32]), epochs=2,
            batch_size=16, probe_size=16,
        )  # fmt: skip
        return train.sweep_fn(run, seed_block=None).lower(*train.sweep_keys(0, 2, 1)).as_text()

    small, large = text(96), text(96 * 50)
    main = next(line for line in large.splitlines() if "@main(" in line)
    assert f"tensor<{96 * 50}x6xf32>" in main and "tensor<32x6xf32>" in main
    # Embedded, 4,704 more examples of 6 float32 would add ~400 kB of text; passed as arguments,
    # only the step counts and index sizes in the text change (measured: 5 kB on a CPU).
    assert abs(len(large) - len(small)) < 40_000, (len(small), len(large))


def test_train_loss_is_the_mean_over_the_records_steps():
    """``train_loss`` at a record is the mean of the values the rule reported at the steps since
    the previous one (not their sum, nor the last one): checked against a hand-written loop of
    the same steps (full batches, so no shuffle is involved)."""
    x, y = _data()
    rule, opt = credax.backprop(LOSS), optax.sgd(0.5)
    init = lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k)  # noqa: E731
    run = train.make_fit(
        rule, init, opt, loss=LOSS, train=(x, y), test=(x, y), epochs=6, batch_size=96,
        eval_every=3, probe_size=16,
    )  # fmt: skip
    res = run.run(jax.random.key(0), jax.random.key(1), jax.random.key(2))
    params, state = init(jax.random.key(0)), rule.init(jax.random.key(1), init(jax.random.key(0)))
    opt_state, values = opt.init(params), []
    for _ in range(6):
        g, state, value = rule.update_with_value(params, state, (jnp.asarray(x), jnp.asarray(y)))
        u, opt_state = opt.update(g, opt_state, params)
        params = optax.apply_updates(params, u)
        values.append(float(value))
    assert len(set(np.round(values, 4))) == 6  # the loss moves at every step
    expect = [np.mean(values[:3]), np.mean(values[3:])]
    np.testing.assert_allclose(res.history.train_loss[1:], expect, rtol=1e-5)
    assert np.isnan(res.history.train_loss[0])


@pytest.mark.parametrize("n_draws", [1, 2])
def test_rule_key_per_seed(n_draws):
    """Shared rule keys give every seed the same draw; per-seed keys give each (seed, draw) pair
    its own, reproducibly."""

    def run(init_key, rule_key, data_key):
        return jax.random.normal(rule_key, ())

    keys = train.sweep_keys(0, 4, n_draws)
    shared = np.asarray(train.sweep_fn(run, seed_block=None)(*keys))
    own = np.asarray(train.sweep_fn(run, seed_block=2, rule_key_per_seed=True)(*keys))
    again = np.asarray(train.sweep_fn(run, seed_block=None, rule_key_per_seed=True)(*keys))
    assert shared.shape == own.shape == (4, n_draws)
    assert np.all(shared == shared[:1])
    assert len(np.unique(own)) == own.size
    np.testing.assert_array_equal(own, again)


def test_make_fit_inside_a_trace():
    """A fit built inside jit/vmap (e.g. one per learning rate) from host arrays: the data checks
    still run (shapes), and training works per lane."""
    x, y = _data()

    def final_loss(lr):
        fit = train.make_fit(
            credax.backprop(LOSS),
            lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k),
            optax.sgd(lr),
            loss=LOSS,
            train=(x, y),
            test=(x, y),
            epochs=1,
            batch_size=16,
        )
        k = jax.random.key(0)
        return fit.run(k, k, k).history.test_loss[-1]

    losses = jax.jit(jax.vmap(final_loss))(jnp.array([1e-4, 0.3]))
    assert losses.shape == (2,) and float(losses[1]) < float(losses[0])


def test_sweep_program_executable_for_inspection():
    fn = train.sweep_fn(_run(), seed_block=None)
    keys = train.sweep_keys(0, 2, 1)
    exe = fn.executable(*keys)
    assert "while" in exe.as_text() and fn.executable(*keys) is exe
    assert fn(*keys).history.test_loss.shape == (2, 1, 3)


def test_final_rule_state_on_request():
    assert train.sweep(_run(), 0, 2).rule_state is None
    res = train.sweep(_run(keep_rule_state=True), 0, 2)
    assert [b.shape for b in res.rule_state.feedback] == [(2, 8, 6), (2, 3, 8)]
    angles = credax.metrics.feedback_angles(
        jax.tree.map(lambda a: a[0], res.params), [b[0] for b in res.rule_state.feedback]
    )
    np.testing.assert_allclose(angles, res.history.feedback_angles[0, -1], rtol=1e-5)


def _dot_precisions(text: str) -> dict:
    import re

    found = re.findall(r"dot_general.*?precision = \[(\w+), \w+\]", text)
    return {p: found.count(p) for p in set(found)}


@pytest.mark.parametrize("precision", [None, "highest"])
def test_training_follows_the_chosen_precision_and_records_are_exact(precision):
    """The precision policy, read off the compiled program (any backend): records (the angle
    measurements, the test loss) are computed at HIGHEST whatever the default; training follows
    ``precision``, or the caller's default (here DEFAULT) when None."""
    with jax.default_matmul_precision("default"):
        fit = _run(precision=precision, eval_every=12)
        text = train.sweep_fn(fit, seed_block=None).lower(*train.sweep_keys(0, 2, 1)).as_text()
    counts = _dot_precisions(text)
    assert counts.get("HIGHEST", 0) >= 6, counts  # forward, backward, angles at the records
    if precision is None:
        assert counts.get("DEFAULT", 0) >= 4, counts  # the training steps
    else:
        assert "DEFAULT" not in counts, counts
    with pytest.raises(ValueError, match="expected precision to be one of default, high"):
        _run(precision="tf32")
