"""Training as one compiled program: ``lax.scan`` over steps, ``vmap`` over seeds.

``make_fit`` builds ``run(init_key, rule_key, data_key) -> FitResult``, a pure function that
trains one model from scratch with the data resident on the device (``fit`` builds it and runs
it once). Every ``eval_every`` steps (default: every epoch) it records the train loss, the test
loss and accuracy, each layer's angle between the rule's update and backprop's on a fixed probe
batch, and for feedback-path rules each layer's angle between ``W_l`` and ``B_l``.

``sweep`` runs ``run`` over init seeds and, on a separate axis, over feedback draws (rule keys) as
one jitted program: ``vmap`` over feedback draws, ``vmap`` (or ``lax.map`` in blocks of
``seed_block`` seeds) over init seeds, and the seed axis sharded over all devices with
``shard_map``. Results are arrays ``[seed, feedback, eval, ...]``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from credax._src.layers import find_layers
from credax._src.losses import accuracy
from credax._src.metrics import all_finite, feedback_angles, update_angles
from credax._src.rule import LearningRule, backprop, forward


class History(NamedTuple):
    """Per-epoch records; the first entry is before training. Shapes for one seed:

    Attributes:
        train_loss: ``(epochs + 1,)`` mean training loss over the epoch (NaN at entry 0).
        test_loss: ``(epochs + 1,)``.
        test_accuracy: ``(epochs + 1,)`` (NaN for regression tasks).
        update_angles: ``(epochs + 1, n_layers)`` degrees between the rule's update and
            backprop's on the probe batch.
        feedback_angles: ``(epochs + 1, n_layers)`` degrees between ``W_l`` and ``B_l`` (NaN for
            rules without ``W``-shaped feedback).
        finite: ``(epochs + 1,)`` whether parameters are all finite.
    """

    train_loss: jax.Array
    test_loss: jax.Array
    test_accuracy: jax.Array
    update_angles: jax.Array
    feedback_angles: jax.Array
    finite: jax.Array


def _feedback_angles(params, rule_state, n_layers):
    fb = getattr(rule_state, "feedback", None)
    weights = [layer.weight for layer in find_layers(params)]
    if (
        fb is not None
        and len(fb) == len(weights)
        and all(b.shape == w.shape for b, w in zip(fb, weights))
    ):
        return feedback_angles(params, fb)
    return jnp.full((n_layers,), jnp.nan)


class FitResult(NamedTuple):
    """What one training run returns.

    Attributes:
        history: ``History`` of per-evaluation records.
        diverged_step: the first step whose training loss was NaN/inf, or -1.
        params: the final parameters.
    """

    history: History
    diverged_step: jax.Array
    params: Any


def make_fit(
    rule: LearningRule,
    init_model: Callable[[jax.Array], Any],
    optimizer: optax.GradientTransformation,
    *,
    loss: Callable,
    train: tuple[Any, Any] | Callable[[jax.Array, int], tuple[jax.Array, jax.Array]],
    test: tuple[Any, Any],
    epochs: int,
    batch_size: int,
    steps_per_epoch: int | None = None,
    eval_every: int | None = None,
    probe_size: int = 256,
    classification: bool = True,
    angles: bool = True,
) -> Callable:
    """Builds a pure ``run(init_key, rule_key, data_key) -> FitResult``.

    Args:
        rule: the learning rule.
        init_model: ``key -> params``.
        optimizer: an optax optimizer applied to the rule's updates.
        loss: the loss the rule and the metrics use.
        train: ``(x, y)`` arrays (shuffled every epoch by ``data_key``; the last partial batch
            is dropped) or ``sample(key, batch_size) -> (x, y)`` drawing fresh examples.
        test: ``(x, y)`` arrays evaluated at every record.
        epochs: number of epochs.
        batch_size: examples per step.
        steps_per_epoch: steps per epoch when ``train`` is a sampler.
        eval_every: steps between records; a divisor or a multiple of the steps per epoch
            (default: once per epoch). The first record is taken before training.
        probe_size: examples of the fixed batch on which update angles are measured.
        classification: whether to record test accuracy.
        angles: whether records measure the update and feedback angles. Each such record costs
            two gradient evaluations on the probe batch (the rule's and backprop's) and several
            passes over the weights, about four training steps of a 784-1000-1000-1000-10 net;
            with ``False`` the angles are recorded as NaN, for the fastest short sweeps.

    Returns:
        ``run``, with attributes ``eval_steps`` (the step of each record) and
        ``steps_per_epoch``.
    """
    epochs, batch_size = int(epochs), int(batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    bp = backprop(loss)
    test_data = (jnp.asarray(test[0]), jnp.asarray(test[1]))
    if callable(train):
        sample = train
        if steps_per_epoch is None or int(steps_per_epoch) < 1:
            raise ValueError("a sampler as train data needs steps_per_epoch >= 1")
        spe = int(steps_per_epoch)
        train_data = ()
    else:
        sample = None
        train_data = (jnp.asarray(train[0]), jnp.asarray(train[1]))
        n = train_data[0].shape[0]
        if train_data[1].shape[0] != n:
            raise ValueError(f"train x has {n} examples but y has {train_data[1].shape[0]}")
        spe = n // batch_size
        if spe < 1:
            raise ValueError(f"batch_size {batch_size} exceeds the {n} training examples")
    k = spe if eval_every is None else int(eval_every)
    if k < 1 or (spe % k and k % spe):
        raise ValueError(
            f"eval_every must divide or be a multiple of the {spe} steps per epoch, got {k}"
        )
    total = epochs * spe
    if total % k:
        raise ValueError(f"eval_every={k} must divide the {total} training steps")
    n_evals = total // k

    angles = bool(angles)

    def record(params, rule_state, probe, train_loss, x_test, y_test):
        out = forward(params, x_test)
        n_layers = len(find_layers(params))
        if angles:
            g_rule, _ = rule.update(params, rule_state, probe)
            g_bp, _ = bp.update(params, (), probe)
            u_angles = update_angles(g_rule, g_bp)
            f_angles = _feedback_angles(params, rule_state, n_layers)
        else:
            u_angles = f_angles = jnp.full((n_layers,), jnp.nan, jnp.float32)
        return History(
            train_loss=train_loss,
            test_loss=loss(out, y_test),
            test_accuracy=accuracy(out, y_test) if classification else jnp.float32(jnp.nan),
            update_angles=u_angles,
            feedback_angles=f_angles,
            finite=all_finite(params),
        )

    def core(data, init_key, rule_key, data_key):
        (x_test, y_test), train_data = data
        if sample is None:
            x_train, y_train = train_data
        params = init_model(init_key)
        rule_state = rule.init(rule_key, params)
        opt_state = optimizer.init(params)
        probe_key, data_key = jax.random.split(data_key)
        if sample is None:
            idx = jax.random.choice(probe_key, n, (min(probe_size, n),), replace=False)
            probe = (x_train[idx], y_train[idx])
        else:
            probe = sample(probe_key, probe_size)

        def step(carry, inp):
            params, rule_state, opt_state, bad, loss_sum = carry
            t, idx = inp
            if sample is None:
                batch = (x_train[idx], y_train[idx])
            else:
                batch = sample(jax.random.fold_in(data_key, t), batch_size)
            value = loss(forward(params, batch[0]), batch[1])
            g, rule_state = rule.update(params, rule_state, batch)
            u, opt_state = optimizer.update(g, opt_state, params)
            params = optax.apply_updates(params, u)
            bad = jnp.where((bad < 0) & ~jnp.isfinite(value), t, bad)
            # A running sum, not a per-step output: nothing is written per step.
            return (params, rule_state, opt_state, bad, loss_sum + value), None

        def recorded(carry, n_steps):
            params, rule_state, opt_state, bad, loss_sum = carry
            hist = record(params, rule_state, probe, loss_sum / n_steps, x_test, y_test)
            return (params, rule_state, opt_state, bad, jnp.zeros_like(loss_sum)), hist

        def block(carry, inp):
            carry, _ = jax.lax.scan(step, carry, inp)
            return recorded(carry, k)

        def indices(e):
            """Batch indices of epoch ``e``, ``(spe, batch_size)``."""
            perm = jax.random.permutation(jax.random.fold_in(data_key, e), n)
            return perm[: spe * batch_size].reshape(spe, batch_size)

        carry = (params, rule_state, opt_state, jnp.int32(-1), jnp.float32(0.0))
        steps = jnp.arange(total, dtype=jnp.int32)
        if sample is not None:
            xs = (steps.reshape(n_evals, k), jnp.zeros((n_evals, k, 0), jnp.int32))
            carry, hist = jax.lax.scan(block, carry, xs)
        elif k <= spe:
            # Outer scan over epochs (one permutation each), inner over the records of an epoch.
            def epoch(carry, e):
                xs = (steps[:spe].reshape(-1, k) + e * spe, indices(e).reshape(-1, k, batch_size))
                return jax.lax.scan(block, carry, xs)

            carry, hist = jax.lax.scan(epoch, carry, jnp.arange(epochs))
            hist = jax.tree_util.tree_map(lambda a: a.reshape(n_evals, *a.shape[2:]), hist)
        else:
            m = k // spe

            def multi(carry, r):
                def epoch(carry, e):
                    xs = (steps[:spe] + e * spe, indices(e))
                    return jax.lax.scan(step, carry, xs)

                carry, _ = jax.lax.scan(epoch, carry, r * m + jnp.arange(m))
                return recorded(carry, k)

            carry, hist = jax.lax.scan(multi, carry, jnp.arange(n_evals))

        first = record(params, rule_state, probe, jnp.float32(jnp.nan), x_test, y_test)
        hist = jax.tree_util.tree_map(
            lambda a, b: jnp.concatenate([jnp.asarray(a, b.dtype)[None], b]), first, hist
        )
        return FitResult(hist, carry[3], carry[0])

    data = (test_data, train_data)

    def run(init_key, rule_key, data_key):
        return core(data, init_key, rule_key, data_key)

    # ``sweep_fn`` passes ``data`` as an argument of the compiled program rather than closing
    # over it: closed-over arrays become constants embedded in the program (hundreds of MB for
    # Fashion-MNIST), which slows compilation.
    run.core = core
    run.data = data

    shapes = jax.eval_shape(init_model, jax.random.key(0))
    run.max_weight_size = max(l.weight.size for l in find_layers(shapes))
    run.eval_steps = [i * k for i in range(n_evals + 1)]
    run.steps_per_epoch = spe
    run.total_steps = total
    return run


def fit(
    rule: LearningRule,
    init_model: Callable[[jax.Array], Any],
    optimizer: optax.GradientTransformation,
    *,
    key: jax.Array | int,
    **kwargs,
) -> FitResult:
    """Trains one model: ``make_fit(rule, init_model, optimizer, **kwargs)`` compiled and run
    once, with the init, rule and data keys split from ``key`` (a PRNG key or an int seed).

    One seed's ``FitResult`` (history ``[record, ...]``); for many seeds or feedback draws as one
    program use ``make_fit`` with ``sweep``.

    Examples:
        >>> import jax, jax.numpy as jnp, optax, credax
        >>> x = jax.random.normal(jax.random.key(0), (64, 5)); y = (x[:, 0] > 0).astype(int)
        >>> L = credax.losses.softmax_cross_entropy
        >>> res = credax.train.fit(credax.feedback_alignment(L),
        ...     lambda k: credax.nets.mlp([5, 16, 2], activation=jnp.tanh, key=k),
        ...     optax.adam(1e-2), loss=L, train=(x, y), test=(x, y), epochs=5, batch_size=16,
        ...     key=0)
        >>> res.history.test_accuracy.shape, bool(res.history.test_accuracy[-1] > 0.8)
        ((6,), True)
    """
    if isinstance(key, (int, np.integer)):
        key = jax.random.key(int(key))
    elif not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"key must be a jax.random.key or an int seed, got {type(key).__name__}")
    run = make_fit(rule, init_model, optimizer, **kwargs)
    k_init, k_rule, k_data = jax.random.split(key, 3)
    return jax.jit(run.core)(run.data, k_init, k_rule, k_data)


def sweep_keys(seed: int, n_seeds: int, n_feedback: int = 1):
    """Keys of a sweep from one integer seed: ``init`` and ``data`` keys ``(n_seeds,)`` (one
    per init seed) and ``rule`` keys ``(n_feedback,)`` (feedback draws, shared by all seeds)."""
    k_init, k_rule, k_data = jax.random.split(jax.random.key(seed), 3)
    return (
        jax.random.split(k_init, n_seeds),
        jax.random.split(k_rule, n_feedback),
        jax.random.split(k_data, n_seeds),
    )


def _shard_map():
    fn = getattr(jax, "shard_map", None)
    if fn is None:  # older JAX
        from jax.experimental.shard_map import shard_map as fn
    return fn


AUTO = "auto"


def choose_seed_block(run: Callable, backend: str | None = None) -> int | None:
    """The seed batching that measured fastest (``benchmarks/throughput.py``, 2-core CPU): with a
    weight matrix of 500k entries or more (784-1000-1000-1000-10), one seed at a time inside the
    program (a vmapped batch of large matmuls loses the cache: 15.0k vs 8.1k samples·seeds/s at
    64 seeds); smaller networks in blocks of 8 seeds (431k vs 362k for 40-256-256-10 at 64 seeds,
    200k vs 159k for 784-256-256-10). On accelerators, all seeds at once."""
    backend = backend or jax.default_backend()
    if backend != "cpu":
        return None
    return 1 if getattr(run, "max_weight_size", 0) >= 500_000 else 8


def seed_rule_key(rule_key: jax.Array, init_key: jax.Array) -> jax.Array:
    """A rule key of one init seed: ``rule_key`` with bits of the seed's ``init_key`` folded in,
    so that every (seed, feedback draw) pair has its own key."""
    bits = jax.random.bits(jax.random.fold_in(init_key, 0x5EED), (), jnp.uint32)
    return jax.random.fold_in(rule_key, bits)


def sweep_fn(
    run: Callable,
    *,
    seed_block: int | str | None = AUTO,
    devices=None,
    rule_key_per_seed: bool = False,
) -> Callable:
    """A jitted ``f(init_keys, rule_keys, data_keys) -> FitResult`` with axes
    ``[seed, feedback, ...]``.

    Seeds and feedback draws are flattened into one vmapped axis of ``seeds x draws`` runs
    (nested vmaps over a size-1 feedback axis measured up to 1.4x slower on a CPU).

    Args:
        run: from ``make_fit``.
        seed_block: seeds trained together by ``vmap`` on each device; blocks run one after
            another inside the program (``lax.map``). None: all of a device's seeds at once;
            ``"auto"``: ``choose_seed_block``.
        devices: devices to shard the seed axis over (default all); the number of seeds must be
            a multiple of their count.
        rule_key_per_seed: by default every init seed shares the rule keys (one per feedback
            draw): feedback-path rules then use the same ``B`` across seeds, and the spread over
            seeds and over draws are measured apart. For rules whose key drives noise
            (perturbation rules), set it so that each seed gets its own stream
            (``seed_rule_key``).
    """
    devices = list(jax.devices() if devices is None else devices)
    if seed_block == AUTO:
        seed_block = choose_seed_block(run, devices[0].platform)
    elif seed_block is not None and (not isinstance(seed_block, int) or seed_block < 1):
        raise ValueError(f"seed_block must be a positive int, None or 'auto', got {seed_block!r}")

    core = getattr(run, "core", None)
    data = getattr(run, "data", ())
    if core is None:  # any run(init_key, rule_key, data_key)
        core = lambda data, *keys: run(*keys)  # noqa: E731

    def local(data, init_keys, rule_keys, data_keys):
        n_s, n_f = init_keys.shape[0], rule_keys.shape[0]
        if rule_key_per_seed:
            one = lambda i, r, d: core(data, i, seed_rule_key(r, i), d)  # noqa: E731
        else:
            one = lambda i, r, d: core(data, i, r, d)  # noqa: E731
        if n_f == 1:
            # One feedback draw shared by every seed: the rule state stays unbatched, so e.g. the
            # error transport through B is one matmul over all seeds' examples.
            rk = rule_keys[0]
            if seed_block is None or seed_block >= n_s:
                out = jax.vmap(one, in_axes=(0, None, 0))(init_keys, rk, data_keys)
            else:
                out = jax.lax.map(
                    lambda k: one(k[0], rk, k[1]), (init_keys, data_keys), batch_size=seed_block
                )
            return jax.tree_util.tree_map(lambda a: a[:, None], out)
        s_idx = jnp.repeat(jnp.arange(n_s), n_f)
        f_idx = jnp.tile(jnp.arange(n_f), n_s)
        keys = (init_keys[s_idx], rule_keys[f_idx], data_keys[s_idx])
        if seed_block is None or seed_block >= n_s:
            out = jax.vmap(one)(*keys)
        else:
            out = jax.lax.map(lambda k: one(*k), keys, batch_size=int(seed_block) * n_f)
        return jax.tree_util.tree_map(lambda a: a.reshape(n_s, n_f, *a.shape[1:]), out)

    if len(devices) == 1:
        compiled = jax.jit(local)
    else:
        from jax.sharding import Mesh, PartitionSpec

        mesh = Mesh(np.array(devices), ("seed",))
        spec = PartitionSpec("seed")
        smap = _shard_map()
        kwargs = dict(
            mesh=mesh, in_specs=(PartitionSpec(), spec, PartitionSpec(), spec), out_specs=spec
        )
        # Each device's seeds are independent: no replication to check (the flag's name changed).
        params = inspect.signature(smap).parameters
        kwargs.update({"check_vma": False} if "check_vma" in params else {"check_rep": False})
        compiled = jax.jit(smap(local, **kwargs))

    return _Bound(compiled, data)


class _Bound:
    """A jitted (or lowered, or compiled) program with its leading ``data`` argument bound:
    called, lowered and compiled with the keys alone, like the jitted function it wraps."""

    def __init__(self, fn, data):
        self._fn, self._data = fn, data

    def __call__(self, *keys):
        return self._fn(self._data, *keys)

    def lower(self, *keys):
        return _Bound(self._fn.lower(self._data, *keys), self._data)

    def compile(self, *args, **kwargs):
        return _Bound(self._fn.compile(*args, **kwargs), self._data)

    def __getattr__(self, name):  # as_text, cost_analysis, memory_analysis, ...
        return getattr(self._fn, name)


def sweep(
    run: Callable,
    seed: int,
    n_seeds: int,
    *,
    n_feedback: int | None = None,
    seed_block: int | str | None = AUTO,
    devices=None,
    rule_key_per_seed: bool = False,
) -> FitResult:
    """Runs ``run`` for ``n_seeds`` init seeds (and ``n_feedback`` feedback draws) as one
    jitted program. Returns a ``FitResult`` on the host with leading axes ``[seed]`` (or
    ``[seed, feedback]`` when ``n_feedback`` is given)."""
    n_dev = len(jax.devices() if devices is None else devices)
    if n_seeds < 1 or n_seeds % n_dev:
        raise ValueError(
            f"n_seeds must be a positive multiple of the {n_dev} devices, got {n_seeds}"
        )
    keys = sweep_keys(seed, n_seeds, 1 if n_feedback is None else n_feedback)
    fn = sweep_fn(run, seed_block=seed_block, devices=devices, rule_key_per_seed=rule_key_per_seed)
    out = jax.device_get(fn(*keys))
    if n_feedback is None:
        out = jax.tree_util.tree_map(lambda a: a[:, 0], out)
    return out
