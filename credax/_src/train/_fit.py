"""One training run as one compiled program: ``lax.scan`` over steps, records every few steps.

``make_fit`` builds a :class:`Fit`: a pure ``program(data, init_key, rule_key, data_key)`` that
trains one model from scratch with the data resident on the device, plus what a caller needs to
read its results (the step of each record). Every ``eval_every`` steps the program records what
``evaluate(params, rule_state, test, probe)`` returns (by default the evaluation of the rule's
task, ``credax.tasks``), the rule's own ``diagnostics`` and the engine's own records: the
running training loss, from the value the rule reports (absent for a rule that reports none),
and whether the parameters are finite. The engine knows no family and no task: what is recorded
comes from the rule and its task.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from credax._src.batches import SUPERVISED, UNSUPERVISED
from credax._src.checks import as_key, check_arity, check_count, check_flag, check_positive
from credax._src.metrics import all_finite
from credax._src.nets._select import find_layers, is_layer, trainable
from credax._src.rule import LearningRule, complete
from credax._src.tasks import TASKS
from credax._src.train._schedule import Schedule, make_schedule

RESERVED = ("train_loss", "finite")


@jax.tree_util.register_pytree_node_class
class History(dict):
    """Named records of a run: a ``dict`` of arrays with a leading record axis (and, from a
    sweep, leading ``[seed, draw]`` axes), also readable as attributes
    (``history.test_accuracy``). The first record is taken before training.

    What is recorded comes from three places: the evaluation (by default the rule's task's:
    ``test_loss``, ``test_accuracy``, ``update_angles`` for supervised rules, see
    ``credax.tasks``), the rule's ``diagnostics`` (e.g. ``feedback_angles``), and the engine:
    ``train_loss`` (the mean of the values the rule reported over the steps since the previous
    record, NaN at the first; absent for a rule that reports no value, e.g. a Hebbian rule) and
    ``finite`` (every parameter finite).
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
        diverged_step: the first step at which the run diverged, or -1: the rule's training
            value became non-finite or grew past ``diverge_factor`` times its initial scale
            (parameters made non-finite by an update show in the next step's value); for a rule
            that reports no value, the parameters became non-finite or their norm grew past
            ``diverge_factor`` times its initial scale; and for any rule, non-finite parameters
            at a record that no value showed (flagged at that record's step).
        params: the final parameters (arrays; None where the model holds other leaves).
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
        task: the task the run was evaluated as (``credax.tasks``).
    """

    program: Callable[..., FitResult]
    data: Any
    eval_steps: tuple[int, ...]
    steps_per_epoch: int
    total_steps: int
    max_weight_size: int
    task: str = SUPERVISED

    @property
    def run(self) -> Callable[[jax.Array, jax.Array, jax.Array], FitResult]:
        """``run(init_key, rule_key, data_key) -> FitResult`` with this fit's data bound."""
        return functools.partial(self.program, self.data)


Evaluate = Callable[[Any, Any, Any, Any], dict]


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


def _check_callables(rule, init_model, optimizer, loss, evaluate) -> LearningRule:
    rule = complete(rule, "make_fit")
    if not callable(init_model):
        raise TypeError(f"expected init_model(key) -> params, got {init_model!r}")
    check_arity("init_model", init_model, 1, "init_model(key) -> params")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"expected an optax optimizer, got {optimizer!r}")
    if loss is not None and not callable(loss):
        raise TypeError(f"expected loss(outputs, y) -> scalar, got {loss!r}")
    if evaluate is not None:
        if not callable(evaluate):
            raise TypeError(
                f"expected evaluate(params, rule_state, test, probe) -> dict, got {evaluate!r}"
            )
        check_arity("evaluate", evaluate, 4, "evaluate(params, rule_state, test, probe)")
    return rule


def _check_model(init_model: Callable) -> Any:
    """The model ``init_model`` builds, abstractly: a layered credax model, or an error."""
    shapes = eqx.filter_eval_shape(init_model, jax.random.key(0))
    if not any(is_layer(n) for n in jax.tree_util.tree_leaves(shapes, is_leaf=is_layer)):
        raise TypeError(
            "expected init_model(key) to return a layered credax model (an equinox Module "
            "built from credax layers, e.g. credax.nets.mlp), got "
            + (
                f"an array of shape {shapes.shape}"
                if hasattr(shapes, "shape")
                else type(shapes).__name__
            )
        )
    return shapes


def _check_finite(name: str, data: Any) -> None:
    """Concrete floating-point arrays of ``data`` hold no NaN or inf."""
    for i, leaf in enumerate(jax.tree_util.tree_leaves(data)):
        if isinstance(leaf, jax.core.Tracer) or not hasattr(leaf, "dtype"):
            continue
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            bad = int(np.size(arr) - np.isfinite(arr).sum())
            raise ValueError(
                f"expected finite {name} data, found {bad} NaN or inf value(s) in its array {i} "
                f"of shape {arr.shape}"
            )


PRECISIONS = ("default", "high", "highest")


def _check_precision(precision: Any) -> str | None:
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(
            f"expected precision to be one of {', '.join(PRECISIONS)} or None (the caller's "
            f"default), got {precision!r}"
        )
    return precision


def _check_factor(diverge_factor: Any) -> float | None:
    if diverge_factor is None:
        return None
    factor = check_positive("diverge_factor", diverge_factor)
    if factor <= 1:
        raise ValueError(f"expected diverge_factor > 1 (or None), got {factor}")
    return factor


def _default_evaluation(rule, task, init_model, loss, train, test, sampled, classification, angles):
    """The task's evaluation, after its concrete checks of the data against the model."""
    checks = TASKS[task]
    if checks.takes_loss and loss is None:
        raise TypeError(
            f"make_fit: the evaluation of {task} rules needs loss=...; or pass "
            "evaluate(params, rule_state, test, probe) -> dict of your own"
        )
    checks.check_data(init_model, "test", test, loss)
    if not sampled:
        checks.check_data(init_model, "train", train, loss)
    if classification is None:
        labels = test[1] if isinstance(test, (tuple, list)) and len(test) == 2 else None
        classification = labels is not None and bool(
            jnp.issubdtype(jnp.result_type(labels), jnp.integer)
        )
    return checks.evaluation(rule, loss=loss, classification=classification, angles=angles)


def _take(data: Any, idx: jax.Array) -> Any:
    return jax.tree_util.tree_map(lambda a: a[idx], data)


def _abstract_batch(train: Any, sample: Callable | None, batch_size: int) -> Any:
    if sample is not None:
        return jax.eval_shape(lambda k: sample(k, batch_size), jax.random.key(0))
    return jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct((batch_size, *np.shape(a)[1:]), jnp.result_type(a)), train
    )


def _reported_value(rule: LearningRule, init_model: Callable, batch: Any):
    """The shape and dtype of the value the rule reports on the training batches, or None
    (traced abstractly: this also checks, before compiling, that the rule accepts the model and
    the batches)."""

    def step(key, batch):
        params = init_model(key)
        state = rule.init(key, params)
        return rule.update_with_value(params, state, batch)[2]

    value = jax.eval_shape(step, jax.random.key(0), batch)
    if value is not None and getattr(value, "shape", None) != ():
        raise ValueError(
            f"expected the rule's value to be a scalar (or None), got shape "
            f"{getattr(value, 'shape', type(value).__name__)}"
        )
    return value


# --- records --------------------------------------------------------------------------------------


def _make_record(rule: LearningRule, evaluate: Evaluate, angles: bool, has_value: bool):
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
        reserved = sorted(set(evaluated) & set(RESERVED))
        if reserved:
            raise ValueError(
                f"evaluate returned the record name(s) {reserved}, which the engine keeps for "
                "its own records (train_loss, finite); rename them"
            )
        for name, value in evaluated.items():
            try:
                value = jnp.asarray(value)
            except TypeError:
                value = None
            if value is None or not (
                jnp.issubdtype(value.dtype, jnp.number) or value.dtype == jnp.bool_
            ):
                raise TypeError(
                    f"expected evaluate's record {name!r} to be a numeric array, got "
                    f"{type(evaluated[name]).__name__}"
                )
            rec[name] = value
        if angles:
            diag = rule.diagnostics(params, rule_state, probe)
        else:
            shapes = jax.eval_shape(rule.diagnostics, params, rule_state, probe)
            diag = jax.tree_util.tree_map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)
        clash = sorted(set(diag) & (set(rec) | set(RESERVED)))
        if clash:
            raise ValueError(f"the rule's diagnostics reuse the record names {clash}")
        rec.update(diag)
        rec["finite"] = all_finite(params)
        return History(rec)

    return record


def _diverged(value, v0, factor):
    bad = ~jnp.isfinite(value)
    if factor is not None:
        bad = bad | (jnp.abs(value) > factor * jnp.maximum(jnp.abs(v0), 1.0))
    return bad


def _norm(tree: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(trainable(tree))
    return jnp.sqrt(sum(jnp.sum(jnp.square(a.astype(jnp.float32))) for a in leaves))


def _apply_updates(params: Any, updates: Any) -> Any:
    """``params + updates`` in each parameter's dtype, where updates are not None (as
    ``optax.apply_updates``, for models that also hold leaves other than arrays)."""
    return jax.tree_util.tree_map(
        lambda p, u: p if u is None else jnp.asarray(p + u).astype(jnp.result_type(p)),
        params,
        updates,
    )


def _keys_as_data(tree: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda a: (
            jax.random.key_data(a)
            if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)
            else a
        ),
        tree,
    )


# --- the program ----------------------------------------------------------------------------------


class _Plan(NamedTuple):
    rule: LearningRule
    init_model: Callable
    optimizer: optax.GradientTransformation
    schedule: Schedule
    sample: Callable | None
    n: int
    batch_size: int
    probe_size: int
    record: Callable
    value_dtype: Any
    factor: float | None
    keep_rule_state: bool
    precision: str | None


def _make_program(plan: _Plan) -> Callable:
    rule, optimizer, sample = plan.rule, plan.optimizer, plan.sample
    spe, k = plan.schedule.steps_per_epoch, plan.schedule.eval_every
    n_evals = plan.schedule.total_steps // k
    n, batch_size, factor = plan.n, plan.batch_size, plan.factor

    def program(data, init_key, rule_key, data_key):
        if plan.precision is None:  # the caller's own default precision
            return body(data, init_key, rule_key, data_key)
        with jax.default_matmul_precision(plan.precision):
            return body(data, init_key, rule_key, data_key)

    def body(data, init_key, rule_key, data_key):
        train_data, test = data
        model = plan.init_model(init_key)
        arrays, static = eqx.partition(model, eqx.is_array)
        rule_state = rule.init(rule_key, model)
        opt_state = optimizer.init(trainable(model))
        norm0 = _norm(arrays)
        probe_key, data_key = jax.random.split(data_key)
        if sample is None:
            size = min(plan.probe_size, n)
            probe = _take(train_data, jax.random.choice(probe_key, n, (size,), False))
            perm = jnp.zeros((n,), jnp.int32)
        else:
            probe = sample(probe_key, plan.probe_size)
            perm = jnp.zeros((0,), jnp.int32)

        def epoch_perm(e):
            """Epoch ``e``'s shuffle: its batches are consecutive slices of this permutation."""
            return jax.random.permutation(jax.random.fold_in(data_key, e), n).astype(jnp.int32)

        def step(carry, inp):
            """One training step; ``inp`` is ``(t, idx)`` with the batch's indices, or ``t``
            alone (sampled data, or records that cut across epochs)."""
            arrays, rule_state, opt_state, perm, (loss_sum, v0, bad) = carry
            t, idx = inp if isinstance(inp, tuple) else (inp, None)
            if sample is not None:
                batch = sample(jax.random.fold_in(data_key, t), batch_size)
            else:
                if idx is None:  # records cut across epochs: a new shuffle when one starts
                    perm = jax.lax.cond(t % spe == 0, lambda: epoch_perm(t // spe), lambda: perm)
                    idx = jax.lax.dynamic_slice(perm, ((t % spe) * batch_size,), (batch_size,))
                batch = _take(train_data, idx)
            params = eqx.combine(arrays, static)
            g, rule_state, value = rule.update_with_value(params, rule_state, batch)
            u, opt_state = optimizer.update(g, opt_state, trainable(params))
            params = _apply_updates(params, u)
            arrays = eqx.filter(params, eqx.is_array)
            if value is not None:  # non-finite parameters show in the next step's value
                value = jnp.asarray(value, plan.value_dtype)
                v0 = jnp.where(t == 0, value, v0)
                now = _diverged(value, v0, factor)
                loss_sum = loss_sum + value
            else:  # no objective: non-finite parameters, or runaway growth
                norm = _norm(arrays)
                now = ~jnp.isfinite(norm)
                if factor is not None:
                    now = now | (norm > factor * jnp.maximum(norm0, 1.0))
            bad = jnp.where((bad < 0) & now, t, bad)
            return (arrays, rule_state, opt_state, perm, (loss_sum, v0, bad)), None

        def train_block(carry, r):
            """Steps ``r k`` to ``(r + 1) k``. The shuffle is drawn outside the step loop when
            the records divide an epoch (once per block, at an epoch's start) or span whole
            epochs (once per epoch); only records that cut across epochs draw it inside."""
            t0 = r * k
            if sample is not None or (spe % k and k % spe):
                return jax.lax.scan(step, carry, t0 + jnp.arange(k, dtype=jnp.int32))[0]
            if spe % k == 0:  # the block lies within one epoch
                arrays, rule_state, opt_state, perm, stats = carry
                pos = t0 % spe
                perm = jax.lax.cond(pos == 0, lambda: epoch_perm(t0 // spe), lambda: perm)
                idx = jax.lax.dynamic_slice(perm, (pos * batch_size,), (k * batch_size,))
                xs = (t0 + jnp.arange(k, dtype=jnp.int32), idx.reshape(k, batch_size))
                return jax.lax.scan(step, (arrays, rule_state, opt_state, perm, stats), xs)[0]

            def epoch(carry, e):  # the block spans whole epochs
                idx = epoch_perm(e)[: spe * batch_size].reshape(spe, batch_size)
                xs = (e * spe + jnp.arange(spe, dtype=jnp.int32), idx)
                return jax.lax.scan(step, carry, xs)[0], None

            return jax.lax.scan(epoch, carry, t0 // spe + jnp.arange(k // spe, dtype=jnp.int32))[0]

        def block(carry, r):
            arrays, rule_state, opt_state, perm, (loss_sum, v0, bad) = carry
            train_loss = jnp.where(r > 0, loss_sum / k, jnp.nan).astype(plan.value_dtype)
            params = eqx.combine(arrays, static)
            with jax.default_matmul_precision("highest"):  # records measure rules, not rounding
                hist = plan.record(params, rule_state, probe, test, train_loss)
            # Non-finite parameters that no value showed (e.g. outside the loss's reach).
            bad = jnp.where((bad < 0) & ~hist["finite"], r * k, bad)
            stats = (jnp.zeros_like(loss_sum), v0, bad)
            carry = (arrays, rule_state, opt_state, perm, stats)
            # The last record ends the run; every other one is followed by k training steps.
            carry = jax.lax.cond(r < n_evals, lambda c: train_block(c, r), lambda c: c, carry)
            return carry, hist

        zero = jnp.zeros((), plan.value_dtype)
        stats = (zero, zero, -jnp.ones((), jnp.int32))
        carry = (arrays, rule_state, opt_state, perm, stats)
        carry, hist = jax.lax.scan(block, carry, jnp.arange(n_evals + 1, dtype=jnp.int32))
        arrays, rule_state = carry[0], carry[1]
        final_state = _keys_as_data(rule_state) if plan.keep_rule_state else None
        return FitResult(hist, carry[4][2], arrays, final_state)

    return program


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
    precision: str | None = None,
) -> Fit:
    """Builds a :class:`Fit`: one training run as a pure, jit-able program.

    Every argument is checked here, before anything is compiled: the data against the model
    (inputs; integer labels against its outputs; a modulator's dtype), and the rule against the
    model and a training batch (abstractly).

    Args:
        rule: the learning rule. Its ``task`` (``credax.tasks``) chooses the default
            evaluation; a rule without one is taken as supervised when ``loss`` is given and
            unsupervised otherwise.
        init_model: ``key -> params``.
        optimizer: an optax optimizer applied to the rule's updates (on the model's
            floating-point arrays: a model may hold functions and integers).
        train: a pytree of arrays with a leading example axis, e.g. ``(x, y)``, ``x`` or
            ``(x, m)`` (shuffled every epoch by ``data_key``, the last partial batch dropped),
            or ``sample(key, batch_size) -> batch`` drawing fresh examples.
        test: a pytree of arrays with a leading example axis, given to ``evaluate``.
        epochs: number of epochs.
        batch_size: examples per step.
        loss: ``loss(outputs, y)``, for the evaluation of supervised rules (and of a readout
            on an unsupervised rule's layers).
        evaluate: ``evaluate(params, rule_state, test, probe) -> dict[str, Array]``; default:
            the evaluation of the rule's task (``credax.tasks``: test loss and accuracy and
            update angles for supervised rules; weight norms and activity, plus those with a
            loss, for unsupervised and modulated ones). The names ``train_loss`` and ``finite``
            are the engine's.
        steps_per_epoch: steps per epoch when ``train`` is a sampler.
        eval_every: steps between records, any divisor of the total number of steps (default:
            once per epoch). The first record is taken before training.
        probe_size: examples of the fixed batch (drawn from ``train``) on which update angles
            and diagnostics are measured.
        classification: record test accuracy (default: when ``test``'s targets are integers).
        angles: measure the update angles and the rule's diagnostics (with ``False`` they are
            recorded as NaN with the same shapes, for the fastest short sweeps).
        diverge_factor: a run counts as diverged at the first step whose training value ``L``
            is non-finite or has ``|L| > diverge_factor · max(|L₀|, 1)`` (``L₀`` the value of the
            first step; non-finite parameters make the next value non-finite), or, for a rule
            that reports no value, whose parameters are non-finite or have a norm above
            ``diverge_factor · max(‖θ₀‖, 1)``; records also flag non-finite parameters. None
            checks finiteness only. The checks of a rule without a value cost one reduction
            over the parameters per step; those of a rule with one cost nothing extra.
        keep_rule_state: return the final rule state in ``FitResult.rule_state`` (memory and
            output traffic: a feedback-path rule's state is as large as the weights).
        precision: the matmul precision of training, ``"default"``, ``"high"`` or ``"highest"``
            (``jax.default_matmul_precision``); None follows the caller's setting. On a GPU the
            default float32 matmul is TF32 (10 mantissa bits); training usually tolerates it.
            The records (evaluation and diagnostics: the angles, losses and accuracies) are
            computed at ``"highest"`` whatever this says, so that a measured angle is the rule's
            and not the arithmetic's.

    Returns:
        A :class:`Fit`; ``fit.run(init_key, rule_key, data_key)`` trains one seed, ``sweep``
        many.
    """
    rule = _check_callables(rule, init_model, optimizer, loss, evaluate)
    probe_size = check_count("probe_size", probe_size)
    angles = check_flag("angles", angles)
    keep_rule_state = check_flag("keep_rule_state", keep_rule_state)
    if classification is not None:
        classification = check_flag("classification", classification)
    factor = _check_factor(diverge_factor)
    precision = _check_precision(precision)
    shapes = _check_model(init_model)
    _examples("test", test)
    _check_finite("test", test)
    sample = train if callable(train) else None
    n = 0 if sample is not None else _examples("train", train)
    if sample is None:
        _check_finite("train", train)
    schedule = make_schedule(
        n_examples=None if sample is not None else n,
        batch_size=batch_size,
        epochs=epochs,
        eval_every=eval_every,
        steps_per_epoch=steps_per_epoch,
    )
    task = rule.task or (SUPERVISED if loss is not None else UNSUPERVISED)
    if evaluate is None:  # checked as given (host arrays stay concrete inside a trace)
        evaluate = _default_evaluation(
            rule, task, init_model, loss, train, test, sample is not None, classification, angles
        )
    value = _reported_value(rule, init_model, _abstract_batch(train, sample, batch_size))
    # The running loss keeps the value's precision (float64 under jax_enable_x64 with a float64
    # model), at least float32.
    value_dtype = jnp.promote_types(jnp.float32, value.dtype) if value is not None else jnp.float32
    test_data = jax.tree_util.tree_map(jnp.asarray, test)
    train_data = () if sample is not None else jax.tree_util.tree_map(jnp.asarray, train)
    plan = _Plan(
        rule,
        init_model,
        optimizer,
        schedule,
        sample,
        n,
        int(batch_size),
        probe_size,
        _make_record(rule, evaluate, angles, value is not None),
        value_dtype,
        factor,
        keep_rule_state,
        precision,
    )
    return Fit(
        program=_make_program(plan),
        data=(train_data, test_data),
        eval_steps=schedule.eval_steps,
        steps_per_epoch=schedule.steps_per_epoch,
        total_steps=schedule.total_steps,
        max_weight_size=max(math.prod(l.weight.shape) for l in find_layers(shapes)),
        task=task,
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

    One seed's ``FitResult`` (history ``[record, ...]``); for many seeds or rule-key draws as
    one program use ``make_fit`` with ``sweep``.

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
