"""Training as one compiled program: ``lax.scan`` over steps, ``vmap`` over seeds.

``make_fit`` builds a :class:`Fit`: a pure ``program(data, init_key, rule_key, data_key)`` that
trains one model from scratch with the data resident on the device, plus what a caller needs to
read its results (the step of each record). Every ``eval_every`` steps the program records what
``evaluate(params, rule_state, test, probe)`` returns, the rule's own ``diagnostics`` and the
engine's own records (the running training loss, whether the parameters are finite). The engine
knows no family of rules: what a rule reports comes from the rule.

``sweep`` runs the program over init seeds and, on a separate axis, over feedback draws (rule
keys) as one jitted program: ``vmap`` over seeds x draws (or ``lax.map`` in blocks of
``seed_block`` seeds), the seed axis sharded over every device of every process with
``shard_map``. Results are arrays ``[seed, feedback, record, ...]``. Any number of seeds runs on
any number of devices: the seed axis is padded to a multiple of the device count by repeating
the last seed, and the padding is dropped from the results.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from credax._src.checks import as_key, check_count, check_flag, check_positive
from credax._src.layers import find_layers
from credax._src.losses import accuracy
from credax._src.metrics import all_finite, update_angles
from credax._src.rule import LearningRule, backprop, forward


@jax.tree_util.register_pytree_node_class
class History(dict):
    """Named records of a run: a ``dict`` of arrays with a leading record axis (and, from a
    sweep, leading ``[seed, feedback]`` axes), also readable as attributes
    (``history.test_accuracy``). The first record is taken before training.

    Records of the default supervised evaluation: ``test_loss``, ``test_accuracy`` (integer
    labels), ``update_angles`` ``(n_layers,)`` degrees between the rule's update and backprop's
    on the probe batch. The engine adds ``train_loss`` (mean over the steps since the previous
    record, NaN at the first; absent when the rule reports no value and no loss is given) and
    ``finite``; the rule adds its ``diagnostics`` (e.g. ``feedback_angles``).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"no record {name!r}; this history holds {', '.join(self) or 'nothing'}"
            ) from None

    def tree_flatten(self):
        keys = tuple(self)
        return tuple(self[k] for k in keys), keys

    @classmethod
    def tree_unflatten(cls, keys, values):
        return cls(zip(keys, values))


class FitResult(NamedTuple):
    """What one training run returns.

    Attributes:
        history: ``History`` of named records, each ``(n_records, ...)``.
        diverged_step: the first step whose training loss was non-finite or grew past
            ``diverge_factor`` times its initial scale (without a training loss: the first
            record with non-finite parameters), or -1.
        params: the final parameters.
        rule_state: the final rule state with ``make_fit(..., keep_rule_state=True)`` (PRNG keys
            in it as raw ``jax.random.key_data``), else None: for feedback-path rules it holds
            a second copy of every weight matrix per seed.
    """

    history: History
    diverged_step: jax.Array
    params: Any
    rule_state: Any


class Fit(NamedTuple):
    """A training run, built by ``make_fit``.

    Attributes:
        program: ``program(data, init_key, rule_key, data_key) -> FitResult``, pure and
            jit-able; ``data`` is passed as an argument, so a compiled program serves any data
            of the same shapes (and arrays are not embedded in it as constants).
        data: ``(train, test)``, the arrays ``program`` trains and evaluates on.
        eval_steps: the training step of each record (the first is 0, before training).
        steps_per_epoch: steps per epoch.
        total_steps: steps of the whole run.
        max_weight_size: entries of the largest weight matrix (for ``choose_seed_block``).
    """

    program: Callable[..., FitResult]
    data: Any
    eval_steps: tuple[int, ...]
    steps_per_epoch: int
    total_steps: int
    max_weight_size: int

    @property
    def run(self) -> Callable[[jax.Array, jax.Array, jax.Array], FitResult]:
        """``run(init_key, rule_key, data_key) -> FitResult`` with this fit's data bound."""
        return functools.partial(self.program, self.data)


Evaluate = Callable[[Any, Any, Any, Any], dict]


def supervised_evaluation(
    loss: Callable,
    rule: LearningRule | None = None,
    *,
    classification: bool = True,
    angles: bool = True,
) -> Evaluate:
    """The default evaluation of supervised rules, ``evaluate(params, rule_state, test, probe)``.

    Records ``test_loss`` and (with ``classification``) ``test_accuracy`` on ``test = (x, y)``
    (outputs from ``rule.predict`` where the rule has one, else the feedforward pass),
    and, given the ``rule``, ``update_angles``: per credax layer, the angle in degrees between
    the rule's update and backprop's on the ``probe`` batch (for a rule with ``predict``, the
    gradient of the loss of ``predict``'s outputs, differentiated through it). Angles are NaN
    without ``angles``, and for a layer the rule leaves unchanged, e.g. outside a
    ``credax.masked`` rule's mask: the angle of a zero update is undefined; each angle record
    costs two gradient evaluations on the probe.
    """

    bp = backprop(loss)
    own_predict = getattr(rule, "predict", None) is not None
    predict = rule.predict if own_predict else forward

    def evaluate(params, rule_state, test, probe):
        x, y = test
        out = predict(params, x)
        rec = {"test_loss": loss(out, y)}
        if classification:
            rec["test_accuracy"] = accuracy(out, y)
        if rule is not None:
            if angles:
                g_rule, _ = rule.update(params, rule_state, probe)
                if own_predict:  # the gradient of the loss of the rule's own network
                    px, py = probe
                    g_bp = jax.grad(lambda p: loss(predict(p, px), py))(params)
                else:
                    g_bp, _ = bp.update(params, (), probe)
                rec["update_angles"] = update_angles(g_rule, g_bp)
            else:
                rec["update_angles"] = jnp.full((len(find_layers(params)),), jnp.nan, jnp.float32)
        return rec

    return evaluate


# --- argument checks (before any compilation) -----------------------------------------------------


def _examples(name: str, data: Any) -> int:
    """The shared leading size of every array of ``data``, checked."""
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError(
            f"expected {name} to hold arrays with a leading example axis, got {data!r}"
        )
    sizes = set()
    for leaf in leaves:
        shape = np.shape(leaf)
        if len(shape) < 1:
            raise ValueError(
                f"expected every array of {name} to have a leading example axis, got a scalar"
            )
        sizes.add(shape[0])
    if len(sizes) != 1:
        raise ValueError(
            f"expected every array of {name} to have the same number of examples, got "
            f"{sorted(sizes)}"
        )
    n = sizes.pop()
    if n < 1:
        raise ValueError(f"{name} has no examples")
    return n


def _take(data: Any, idx: jax.Array) -> Any:
    return jax.tree_util.tree_map(lambda a: a[idx], data)


def _check_supervised_data(init_model, loss, name: str, data: Any) -> None:
    """Checks concrete ``(x, y)`` against the model: input shape, and targets through ``loss``
    on zero outputs (which range-checks integer labels)."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            f"the default (supervised) evaluation needs {name} = (x, y); pass evaluate=... for "
            f"other tasks, got {type(data).__name__}"
        )
    x, y = data
    model = jax.eval_shape(init_model, jax.random.key(0))
    example = jax.ShapeDtypeStruct(np.shape(x)[1:], jnp.result_type(x))
    try:
        out = jax.eval_shape(lambda m, e: m(e), model, example)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} inputs of shape {np.shape(x)} do not fit the model: {e}") from e
    outputs = jax.ShapeDtypeStruct((np.shape(y)[0], *out.shape), jnp.float32)
    try:
        if isinstance(y, jax.core.Tracer):  # make_fit inside a trace: shapes only
            jax.eval_shape(loss, outputs, y)
        else:  # concrete: integer labels are range-checked by the loss
            loss(np.zeros(outputs.shape, np.float32), np.asarray(y))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} targets: {e}") from e


def _diverged(value, v0, factor):
    bad = ~jnp.isfinite(value)
    if factor is not None:
        bad = bad | (jnp.abs(value) > factor * jnp.maximum(jnp.abs(v0), 1.0))
    return bad


def _keys_as_data(tree: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda a: (
            jax.random.key_data(a)
            if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)
            else a
        ),
        tree,
    )


def make_fit(
    rule: LearningRule,
    init_model: Callable[[jax.Array], Any],
    optimizer: optax.GradientTransformation,
    *,
    train: Any,
    test: Any,
    epochs: int,
    batch_size: int,
    loss: Callable | None = None,
    evaluate: Evaluate | None = None,
    steps_per_epoch: int | None = None,
    eval_every: int | None = None,
    probe_size: int = 256,
    classification: bool | None = None,
    angles: bool = True,
    diverge_factor: float | None = 100.0,
    keep_rule_state: bool = False,
) -> Fit:
    """Builds a :class:`Fit`: one training run as a pure, jit-able program.

    Every argument is checked here, before anything is compiled; with ``(x, y)`` data and the
    default evaluation, the inputs are checked against the model and integer labels against its
    number of outputs.

    Args:
        rule: the learning rule.
        init_model: ``key -> params``.
        optimizer: an optax optimizer applied to the rule's updates.
        train: a pytree of arrays with a leading example axis, e.g. ``(x, y)`` (shuffled every
            epoch by ``data_key``, the last partial batch dropped), or ``sample(key,
            batch_size) -> batch`` drawing fresh examples.
        test: a pytree of arrays with a leading example axis, given to ``evaluate``.
        epochs: number of epochs.
        batch_size: examples per step.
        loss: ``loss(outputs, y)``, for the default supervised evaluation and, when the rule
            reports no value of its own, the running training loss.
        evaluate: ``evaluate(params, rule_state, test, probe) -> dict[str, Array]``; default
            ``supervised_evaluation(loss, rule, ...)`` (test loss and accuracy, update angles).
        steps_per_epoch: steps per epoch when ``train`` is a sampler.
        eval_every: steps between records, any divisor of the total number of steps (default:
            once per epoch). The first record is taken before training.
        probe_size: examples of the fixed batch (drawn from ``train``) on which update angles
            and diagnostics are measured.
        classification: record test accuracy (default: when ``test``'s targets are integers).
        angles: measure the update angles and the rule's diagnostics (with ``False`` they are
            recorded as NaN with the same shapes, for the fastest short sweeps).
        diverge_factor: a run counts as diverged at the first step whose training loss ``L`` is
            non-finite or has ``|L| > diverge_factor · max(|L₀|, 1)``, ``L₀`` the loss of the
            first step; None checks finiteness only.
        keep_rule_state: return the final rule state in ``FitResult.rule_state`` (memory and
            output traffic: a feedback-path rule's state is as large as the weights).

    Returns:
        A :class:`Fit`; ``fit.run(init_key, rule_key, data_key)`` trains one seed, ``sweep``
        many.
    """
    if not (hasattr(rule, "init") and hasattr(rule, "update")):
        raise TypeError(f"expected rule to be a credax.LearningRule, got {rule!r}")
    if not callable(init_model):
        raise TypeError(f"expected init_model(key) -> params, got {init_model!r}")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"expected an optax optimizer, got {optimizer!r}")
    epochs, batch_size = check_count("epochs", epochs), check_count("batch_size", batch_size)
    probe_size = check_count("probe_size", probe_size)
    angles = check_flag("angles", angles)
    keep_rule_state = check_flag("keep_rule_state", keep_rule_state)
    if diverge_factor is not None:
        diverge_factor = check_positive("diverge_factor", diverge_factor)
        if diverge_factor <= 1:
            raise ValueError(f"expected diverge_factor > 1 (or None), got {diverge_factor}")
    if loss is not None and not callable(loss):
        raise TypeError(f"expected loss(outputs, y) -> scalar, got {loss!r}")
    if evaluate is None and loss is None:
        raise TypeError(
            "make_fit: the default evaluation is supervised and needs loss=...; pass "
            "evaluate(params, rule_state, test, probe) -> dict for other tasks"
        )
    if evaluate is not None and not callable(evaluate):
        raise TypeError(
            f"expected evaluate(params, rule_state, test, probe) -> dict, got {evaluate!r}"
        )

    _examples("test", test)
    if callable(train):
        sample = train
        if steps_per_epoch is None:
            raise ValueError("a sampler as train data needs steps_per_epoch >= 1")
        spe = check_count("steps_per_epoch", steps_per_epoch)
        train_data, n = (), 0
    else:
        sample = None
        if steps_per_epoch is not None:
            raise ValueError("steps_per_epoch is for sampled training data; arrays set it by size")
        n = _examples("train", train)
        spe = n // batch_size
        if spe < 1:
            raise ValueError(f"batch_size {batch_size} exceeds the {n} training examples")
    total = epochs * spe
    k = spe if eval_every is None else check_count("eval_every", eval_every)
    if total % k:
        raise ValueError(f"eval_every must divide the {total} training steps, got {k}")
    n_evals = total // k

    if evaluate is None:  # checked as given (host arrays stay concrete inside a trace)
        _check_supervised_data(init_model, loss, "test", test)
        if sample is None:
            _check_supervised_data(init_model, loss, "train", train)
        if classification is None:
            classification = bool(jnp.issubdtype(jnp.result_type(test[1]), jnp.integer))
        evaluate = supervised_evaluation(loss, rule, classification=classification, angles=angles)
    # The rule accepts the model (a chain-only rule refuses a conv net here, not mid-compile).
    jax.eval_shape(lambda k: rule.init(k, init_model(k)), jax.random.key(0))
    test_data = jax.tree_util.tree_map(jnp.asarray, test)
    if sample is None:
        train_data = jax.tree_util.tree_map(jnp.asarray, train)

    value_update = getattr(rule, "update_with_value", None)
    diagnose = getattr(rule, "diagnostics", None)
    has_value = value_update is not None or loss is not None

    def train_step(params, rule_state, batch):
        if value_update is not None:
            g, rule_state, value = value_update(params, rule_state, batch)
        else:
            g, rule_state = rule.update(params, rule_state, batch)
            value = loss(forward(params, batch[0]), batch[1]) if loss is not None else None
        return g, rule_state, (None if value is None else jnp.asarray(value, jnp.float32))

    def record(params, rule_state, probe, test, train_loss):
        rec = {}
        if has_value:
            rec["train_loss"] = train_loss
        evaluated = evaluate(params, rule_state, test, probe)
        if not isinstance(evaluated, Mapping):
            raise TypeError(
                "expected evaluate(params, rule_state, test, probe) to return a dict of named "
                f"arrays, got {type(evaluated).__name__}"
            )
        for name, value in evaluated.items():
            rec[name] = jnp.asarray(value)
        if diagnose is not None:
            if angles:
                diag = diagnose(params, rule_state, probe)
            else:
                shapes = jax.eval_shape(diagnose, params, rule_state, probe)
                diag = jax.tree_util.tree_map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)
            clash = set(diag) & set(rec)
            if clash:
                raise ValueError(f"the rule's diagnostics reuse the record names {sorted(clash)}")
            rec.update(diag)
        rec["finite"] = all_finite(params)
        return History(rec)

    def program(data, init_key, rule_key, data_key):
        train_data, test = data
        params = init_model(init_key)
        rule_state = rule.init(rule_key, params)
        opt_state = optimizer.init(params)
        probe_key, data_key = jax.random.split(data_key)
        if sample is None:
            probe = _take(train_data, jax.random.choice(probe_key, n, (min(probe_size, n),), False))
            perm = jnp.zeros((n,), jnp.int32)
        else:
            probe = sample(probe_key, probe_size)
            perm = jnp.zeros((0,), jnp.int32)

        def epoch_perm(e):
            """Epoch ``e``'s shuffle: its batches are consecutive slices of this permutation."""
            return jax.random.permutation(jax.random.fold_in(data_key, e), n)

        def step(carry, inp):
            """One training step; ``inp`` is ``(t, idx)`` with the batch's indices, or ``t``
            alone (sampled data, or records that cut across epochs)."""
            params, rule_state, opt_state, perm, (loss_sum, v0, bad) = carry
            t, idx = inp if isinstance(inp, tuple) else (inp, None)
            if sample is not None:
                batch = sample(jax.random.fold_in(data_key, t), batch_size)
            else:
                if idx is None:  # records cut across epochs: a new shuffle when one starts
                    perm = jax.lax.cond(t % spe == 0, lambda: epoch_perm(t // spe), lambda: perm)
                    idx = jax.lax.dynamic_slice(perm, ((t % spe) * batch_size,), (batch_size,))
                batch = _take(train_data, idx)
            g, rule_state, value = train_step(params, rule_state, batch)
            u, opt_state = optimizer.update(g, opt_state, params)
            params = optax.apply_updates(params, u)
            if value is not None:
                v0 = jnp.where(t == 0, value, v0)
                bad = jnp.where((bad < 0) & _diverged(value, v0, diverge_factor), t, bad)
                loss_sum = loss_sum + value
            return (params, rule_state, opt_state, perm, (loss_sum, v0, bad)), None

        def train_block(carry, r):
            """Steps ``r k`` to ``(r + 1) k``. The shuffle is drawn outside the step loop when
            the records divide an epoch (once per block, at an epoch's start) or span whole
            epochs (once per epoch); only records that cut across epochs draw it inside."""
            t0 = r * k
            if sample is not None or (spe % k and k % spe):
                return jax.lax.scan(step, carry, t0 + jnp.arange(k, dtype=jnp.int32))[0]
            if spe % k == 0:  # the block lies within one epoch
                params, rule_state, opt_state, perm, stats = carry
                pos = t0 % spe
                perm = jax.lax.cond(pos == 0, lambda: epoch_perm(t0 // spe), lambda: perm)
                idx = jax.lax.dynamic_slice(perm, (pos * batch_size,), (k * batch_size,))
                xs = (t0 + jnp.arange(k, dtype=jnp.int32), idx.reshape(k, batch_size))
                return jax.lax.scan(step, (params, rule_state, opt_state, perm, stats), xs)[0]

            def epoch(carry, e):  # the block spans whole epochs
                idx = epoch_perm(e)[: spe * batch_size].reshape(spe, batch_size)
                xs = (e * spe + jnp.arange(spe, dtype=jnp.int32), idx)
                return jax.lax.scan(step, carry, xs)[0], None

            return jax.lax.scan(epoch, carry, t0 // spe + jnp.arange(k // spe))[0]

        def block(carry, r):
            params, rule_state, opt_state, perm, (loss_sum, v0, bad) = carry
            train_loss = jnp.where(r > 0, loss_sum / k, jnp.nan)
            hist = record(params, rule_state, probe, test, train_loss)
            if not has_value:  # divergence from the parameters at the records
                bad = jnp.where((bad < 0) & ~hist["finite"], r * k, bad)
            carry = (params, rule_state, opt_state, perm, (jnp.zeros_like(loss_sum), v0, bad))
            # The last record ends the run; every other one is followed by k training steps.
            carry = jax.lax.cond(r < n_evals, lambda c: train_block(c, r), lambda c: c, carry)
            return carry, hist

        stats = (jnp.float32(0.0), jnp.float32(0.0), jnp.int32(-1))
        carry = (params, rule_state, opt_state, perm, stats)
        carry, hist = jax.lax.scan(block, carry, jnp.arange(n_evals + 1, dtype=jnp.int32))
        params, rule_state = carry[0], carry[1]
        final_state = _keys_as_data(rule_state) if keep_rule_state else None
        return FitResult(hist, carry[4][2], params, final_state)

    shapes = jax.eval_shape(init_model, jax.random.key(0))
    return Fit(
        program=program,
        data=(train_data, test_data),
        eval_steps=tuple(i * k for i in range(n_evals + 1)),
        steps_per_epoch=spe,
        total_steps=total,
        max_weight_size=max(math.prod(l.weight.shape) for l in find_layers(shapes)),
    )


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
    key = as_key(key, "fit key")
    f = make_fit(rule, init_model, optimizer, **kwargs)
    k_init, k_rule, k_data = jax.random.split(key, 3)
    return jax.jit(f.program)(f.data, k_init, k_rule, k_data)


def sweep_keys(seed: int, n_seeds: int, n_feedback: int = 1):
    """Keys of a sweep from one integer seed: ``init`` and ``data`` keys ``(n_seeds,)`` (one
    per init seed) and ``rule`` keys ``(n_feedback,)`` (feedback draws, shared by all seeds)."""
    n_seeds, n_feedback = check_count("n_seeds", n_seeds), check_count("n_feedback", n_feedback)
    k_init, k_rule, k_data = jax.random.split(as_key(seed, "sweep seed"), 3)
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


def choose_seed_block(fit: Fit, backend: str | None = None) -> int | None:
    """The seed batching that measured fastest (``benchmarks/throughput.py``, 2-core CPU): with a
    weight matrix of 500k entries or more (784-1000-1000-1000-10), one seed at a time inside the
    program (a vmapped batch of large matmuls loses the cache: 15.0k vs 8.1k samples·seeds/s at
    64 seeds); smaller networks in blocks of 8 seeds (431k vs 362k for 40-256-256-10 at 64 seeds,
    200k vs 159k for 784-256-256-10). On accelerators, all seeds at once."""
    backend = backend or jax.default_backend()
    if backend != "cpu":
        return None
    return 1 if getattr(fit, "max_weight_size", 0) >= 500_000 else 8


def seed_rule_key(rule_key: jax.Array, init_key: jax.Array) -> jax.Array:
    """A rule key of one init seed: ``rule_key`` with bits of the seed's ``init_key`` folded in,
    so that every (seed, feedback draw) pair has its own key."""
    bits = jax.random.bits(jax.random.fold_in(init_key, 0x5EED), (), jnp.uint32)
    return jax.random.fold_in(rule_key, bits)


def _program_and_data(fit: Any) -> tuple[Callable, Any]:
    if isinstance(fit, Fit):
        return fit.program, fit.data
    if callable(fit):  # any run(init_key, rule_key, data_key)
        return _KeysOnly(fit), ()
    raise TypeError(f"expected a credax.train.Fit from make_fit, got {fit!r}")


class _KeysOnly:
    """``program(data, *keys)`` for a plain ``run(*keys)``; hashable by the wrapped function."""

    def __init__(self, run):
        self.run = run

    def __call__(self, data, *keys):
        return self.run(*keys)

    def __hash__(self):
        return hash(self.run)

    def __eq__(self, other):
        return isinstance(other, _KeysOnly) and other.run is self.run


def sweep_fn(
    fit: Fit,
    *,
    seed_block: int | str | None = AUTO,
    devices=None,
    rule_key_per_seed: bool = False,
) -> SweepProgram:
    """The jitted sweep of ``fit``: ``f(init_keys, rule_keys, data_keys) -> FitResult`` with axes
    ``[seed, feedback, ...]``. The program is kept: a later call for the same ``fit`` and
    settings reuses it (and its compiled executables) instead of compiling again.

    Seeds and feedback draws are flattened into one vmapped axis of ``seeds x draws`` runs
    (nested vmaps over a size-1 feedback axis measured up to 1.4x slower on a CPU).

    Args:
        fit: from ``make_fit`` (or any ``run(init_key, rule_key, data_key)``).
        seed_block: seeds trained together by ``vmap`` on each device; blocks run one after
            another inside the program (``lax.map``). None: all of a device's seeds at once;
            ``"auto"``: ``choose_seed_block``.
        devices: devices to shard the seed axis over (default: every device of every process).
            Any number of seeds runs on any number of devices (padded, then dropped).
        rule_key_per_seed: by default every init seed shares the rule keys (one per feedback
            draw): feedback-path rules then use the same ``B`` across seeds, and the spread over
            seeds and over draws are measured apart. For rules whose key drives noise
            (``RuleEntry.stochastic``), set it so that each seed gets its own stream
            (``seed_rule_key``).
    """
    devices = tuple(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("sweep_fn: expected at least one device")
    if seed_block == AUTO:
        seed_block = choose_seed_block(fit, devices[0].platform)
    elif seed_block is not None:
        seed_block = check_count("seed_block", seed_block)
    rule_key_per_seed = check_flag("rule_key_per_seed", rule_key_per_seed)
    program, data = _program_and_data(fit)
    return SweepProgram(
        _jitted_sweep(program, seed_block, devices, rule_key_per_seed), data, devices
    )


@functools.lru_cache(maxsize=64)
def _jitted_sweep(program, seed_block, devices, rule_key_per_seed):
    """One jitted sweep per (program, settings): kept, so that its compiled executables are."""

    def local(data, init_raw, rule_raw, data_raw, impl):
        init_keys, rule_keys, data_keys = (
            jax.random.wrap_key_data(k, impl=impl) for k in (init_raw, rule_raw, data_raw)
        )
        n_s, n_f = init_keys.shape[0], rule_keys.shape[0]
        if rule_key_per_seed:
            one = lambda i, r, d: program(data, i, seed_rule_key(r, i), d)  # noqa: E731
        else:
            one = lambda i, r, d: program(data, i, r, d)  # noqa: E731
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
        return jax.jit(local, static_argnums=4)
    from jax.sharding import Mesh, PartitionSpec

    mesh = Mesh(np.array(devices), ("seed",))
    spec, rep = PartitionSpec("seed"), PartitionSpec()
    smap = _shard_map()
    params = inspect.signature(smap).parameters
    # Each device's seeds are independent: no replication to check (the flag's name changed).
    check = {"check_vma": False} if "check_vma" in params else {"check_rep": False}

    def sharded(data, init_raw, rule_raw, data_raw, impl):
        body = functools.partial(local, impl=impl)
        return smap(body, mesh=mesh, in_specs=(rep, spec, rep, spec), out_specs=spec, **check)(
            data, init_raw, rule_raw, data_raw
        )

    return jax.jit(sharded, static_argnums=4)


class SweepProgram:
    """A sweep with its data bound: ``f(init_keys, rule_keys, data_keys) -> FitResult`` with axes
    ``[seed, feedback, ...]`` (see ``sweep_fn``). ``compile(*keys)`` compiles it ahead of time for
    keys of those shapes; calls with such keys then run the compiled executable.

    Across processes (after ``jax.distributed.initialize``, see ``initialize_distributed``) the
    devices are those of every process: each process runs its share of the seeds, and every
    process gets the whole result as NumPy arrays. On ``jax.local_devices()`` alone, each process
    runs the whole sweep by itself.
    """

    def __init__(self, jitted, data, devices):
        self._jitted, self._data, self.devices = jitted, data, devices
        self._compiled: dict = {}

    def _inputs(self, init_keys, rule_keys, data_keys):
        keys = [as_key(k, "sweep keys") for k in (init_keys, rule_keys, data_keys)]
        for k in keys:
            if not jnp.issubdtype(k.dtype, jax.dtypes.prng_key):
                raise TypeError("sweep keys must be typed PRNG keys (jax.random.key), batched")
            if k.ndim != 1:
                raise ValueError(f"expected a 1-d array of keys per argument, got shape {k.shape}")
        if init_keys.shape != data_keys.shape:
            raise ValueError(
                f"expected as many data keys as init keys, got {data_keys.shape[0]} and "
                f"{init_keys.shape[0]}"
            )
        impl = str(jax.random.key_impl(keys[0]))
        raw = [jax.random.key_data(k) for k in keys]
        n = raw[0].shape[0]
        pad = (-n) % len(self.devices)
        if pad:  # pad the seed axis to the device count by repeating the last seed
            for i in (0, 2):
                raw[i] = jnp.concatenate([raw[i], jnp.repeat(raw[i][-1:], pad, axis=0)])
        data = self._data
        if _spans_processes(self.devices):
            data, raw = _global_inputs(self.devices, data, raw)
        return data, raw, impl, pad

    def lower(self, init_keys, rule_keys, data_keys):
        """The program lowered for keys of these shapes, for inspection (``.as_text()``,
        ``.cost_analysis()``); to run it, call this ``SweepProgram``."""
        data, raw, impl, _ = self._inputs(init_keys, rule_keys, data_keys)
        return self._jitted.lower(data, *raw, impl)

    def executable(self, init_keys, rule_keys, data_keys):
        """The compiled executable for keys of these shapes (compiling it if needed), for
        inspection (``.as_text()``, ``.memory_analysis()``, ``.cost_analysis()``); to run it,
        call this ``SweepProgram``."""
        data, raw, impl, _ = self._inputs(init_keys, rule_keys, data_keys)
        sig = (impl, *(r.shape for r in raw))
        if sig not in self._compiled:
            self._compiled[sig] = self._jitted.lower(data, *raw, impl).compile()
        return self._compiled[sig]

    def compile(self, init_keys, rule_keys, data_keys) -> SweepProgram:
        """Compiles the sweep for keys of these shapes (without running it); returns ``self``."""
        self.executable(init_keys, rule_keys, data_keys)
        return self

    def __call__(self, init_keys, rule_keys, data_keys) -> FitResult:
        data, raw, impl, pad = self._inputs(init_keys, rule_keys, data_keys)
        sig = (impl, *(r.shape for r in raw))
        compiled = self._compiled.get(sig)
        out = compiled(data, *raw) if compiled is not None else self._jitted(data, *raw, impl)
        if _spans_processes(self.devices):  # each process holds its seeds' shards: gather
            from jax.experimental import multihost_utils

            out = multihost_utils.process_allgather(out, tiled=True)
        if pad:
            out = jax.tree_util.tree_map(lambda a: a[: a.shape[0] - pad], out)
        return out


def _spans_processes(devices) -> bool:
    """Whether ``devices`` include another process's: a sweep across processes, with global
    inputs and a gathered output. On this process's devices alone (``jax.local_devices()``) each
    process runs the whole sweep by itself, as with one process."""
    if jax.process_count() == 1:
        return False
    mine = jax.process_index()
    return any(d.process_index != mine for d in devices)


def _global_inputs(devices, data, raw):
    """Global arrays over ``devices`` (all processes): data replicated, keys split by seed."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    if not any(d.process_index == jax.process_index() for d in devices):
        raise ValueError(
            f"a sweep across processes runs in every process of its devices; process "
            f"{jax.process_index()} has none of {list(devices)} (pass the same devices in every "
            "process, e.g. the default jax.devices())"
        )
    mesh = Mesh(np.array(devices), ("seed",))

    def put(a, spec):
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, NamedSharding(mesh, spec), lambda i: a[i])

    data = jax.tree_util.tree_map(lambda a: put(a, PartitionSpec()), data)
    specs = (PartitionSpec("seed"), PartitionSpec(), PartitionSpec("seed"))
    return data, [put(r, s) for r, s in zip(raw, specs)]


def sweep(
    fit: Fit,
    seed: int,
    n_seeds: int,
    *,
    n_feedback: int | None = None,
    seed_block: int | str | None = AUTO,
    devices=None,
    rule_key_per_seed: bool = False,
) -> FitResult:
    """Runs ``fit`` for ``n_seeds`` init seeds (and ``n_feedback`` feedback draws) as one
    jitted program, kept for later calls with the same ``fit`` and settings. Returns a
    ``FitResult`` of NumPy arrays with leading axes ``[seed]`` (or ``[seed, feedback]`` when
    ``n_feedback`` is given). Any ``n_seeds`` runs on any number of devices (see ``sweep_fn``).
    """
    keys = sweep_keys(seed, n_seeds, 1 if n_feedback is None else n_feedback)
    fn = sweep_fn(fit, seed_block=seed_block, devices=devices, rule_key_per_seed=rule_key_per_seed)
    out = jax.device_get(fn(*keys))
    if n_feedback is None:
        out = jax.tree_util.tree_map(lambda a: a[:, 0], out)
    return out


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs,
) -> None:
    """``jax.distributed.initialize`` for sweeps across processes, with the CPU's collectives
    (gloo) switched on first, as CPU processes need. On a TPU slice or a GPU cluster, call it with
    no arguments on every host (JAX finds the others); on CPUs, name the coordinator
    (``"host:port"``), the number of processes and this process's id. Then every process runs
    the same ``sweep``: the seed axis is sharded over the devices of all processes.
    """
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # pragma: no cover - an older or newer JAX without the option
        pass
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        **kwargs,
    )
