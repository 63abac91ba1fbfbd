"""Records shared by the tasks' evaluations: how a network does on labelled data, and what its
layers look like."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from credax._src.losses import accuracy
from credax._src.metrics import update_angles, weight_norms
from credax._src.nets._select import find_layers
from credax._src.nets._trace import trace
from credax._src.rule import LearningRule, forward

Evaluate = Callable[[Any, Any, Any, Any], dict]


def readout_records(
    params: Any,
    rule_state: Any,
    rule: LearningRule | None,
    test: tuple,
    probe: tuple,
    *,
    loss: Callable,
    classification: bool,
    angles: bool,
    outputs: jax.Array | None = None,
) -> dict:
    """``test_loss`` and (``classification``) ``test_accuracy`` of the network's outputs on
    ``test = (x, y)`` (the rule's ``predict``), and, given the rule, ``update_angles``: per
    credax layer, degrees between the rule's update and the gradient of the loss of its
    outputs on the ``probe`` batch (NaN without ``angles``, and for a layer whose update is
    zero)."""
    predict = forward if rule is None else rule.predict
    x, y = test
    out = predict(params, x) if outputs is None else outputs
    rec = {"test_loss": loss(out, y)}
    if classification:
        rec["test_accuracy"] = accuracy(out, y)
    if rule is not None:
        if angles:
            g_rule, _ = rule.update(params, rule_state, probe)
            px, py = probe
            g_ref = eqx.filter_grad(lambda p: loss(predict(p, px), py))(params)
            rec["update_angles"] = update_angles(g_rule, g_ref)
        else:
            rec["update_angles"] = jnp.full((len(find_layers(params)),), jnp.nan, jnp.float32)
    if any(_spiking(layer) for layer in find_layers(params)):
        rec.update(spike_records(params, trace(params, probe[0])))
    return rec


def _spiking(layer: Any) -> bool:
    return bool(getattr(layer, "is_spiking", False))


def spike_records(params: Any, t: Any) -> dict:
    """For a model with spiking layers (``credax.spiking.LIF``), per credax layer on the traced
    batch: ``firing_rate`` (Hz, the mean over examples, steps and units) and ``spike_count``
    (spikes per example, summed over steps and units); NaN for layers that do not spike."""
    rates, counts = [], []
    for layer, h in zip(find_layers(params), t.outputs):
        if _spiking(layer):
            h = h.astype(jnp.float32)
            rates.append(jnp.mean(h) * (1000.0 / layer.dynamics.dt))
            counts.append(jnp.sum(h) / h.shape[0])
        else:
            rates.append(jnp.float32(jnp.nan))
            counts.append(jnp.float32(jnp.nan))
    return {"firing_rate": jnp.stack(rates), "spike_count": jnp.stack(counts)}


def _rms(a: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(jnp.square(a.astype(jnp.float32))))


def layer_records(params: Any, x: jax.Array) -> tuple[dict, jax.Array]:
    """``weight_norms`` (``‖W_l‖`` per layer) and ``activity`` (RMS of each layer's output ``h_l``
    on ``x``, over examples, steps and units), and the network's outputs on ``x``."""
    t = trace(params, x)
    rec = {
        "weight_norms": weight_norms(params),
        "activity": jnp.stack([_rms(h) for h in t.outputs]),
    }
    if any(_spiking(layer) for layer in find_layers(params)):
        rec.update(spike_records(params, t))
    return rec, t.output


def model_output(init_model: Callable, x_shape: tuple, x_dtype: Any, name: str):
    """The model's output for one example of the data's inputs, abstractly, or a ValueError
    naming the data."""
    model = eqx.filter_eval_shape(init_model, jax.random.key(0))
    example = jax.ShapeDtypeStruct(tuple(x_shape[1:]), jnp.result_type(x_dtype))
    try:
        return eqx.filter_eval_shape(lambda m, e: m(e), model, example)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} inputs of shape {tuple(x_shape)} do not fit the model: {e}"
        ) from e


def check_targets(init_model: Callable, loss: Callable, name: str, x: Any, y: Any) -> None:
    """Concrete ``(x, y)`` against the model: input shape, and targets through ``loss`` on zero
    outputs (which range-checks integer labels)."""
    out = model_output(init_model, np.shape(x), jnp.result_type(x), name)
    outputs = jax.ShapeDtypeStruct((np.shape(y)[0], *out.shape), jnp.float32)
    try:
        if isinstance(y, jax.core.Tracer):  # make_fit inside a trace: shapes only
            jax.eval_shape(loss, outputs, y)
        else:  # concrete: integer labels are range-checked by the loss
            loss(np.zeros(outputs.shape, np.float32), np.asarray(y))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} targets: {e}") from e


def check_pair(data: Any, name: str, what: str) -> tuple:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            f"expected {name} = {what}, got {type(data).__name__}"
            + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "")
        )
    return tuple(data)
