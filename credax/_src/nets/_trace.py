"""Traces and local updates: the two primitives every local rule is built from.

- ``trace(model, x)``: each credax layer's input ``h_{l-1}``, pre-activation ``a_l``, output
  ``h_l`` and exposed internal quantities on a batch, as the model computed them (optionally
  with offsets added to the pre-activations: the noise of perturbation rules, or zeros to
  differentiate at ``a_l``);
- ``local_updates(model, inputs, deltas)``: per-layer errors ``δ_l`` at the pre-activations to
  updates with the model's tree (dense ``δ_lᵀ h_{l-1}``, conv the matching correlation, bias
  ``Σ δ_l``), summed over time for a layer applied at several steps.

Time. A layer applied more than once per example (at every step of a ``credax.nets.scan``, in a
Python loop, or shared through ``equinox.nn.Shared``) is one set of parameters used at several
steps: its records are stacked on an axis after the batch axis, ``(B, N, ...)`` with one entry
per application in order (for a scan, in the order of the scan's index), and
``local_updates`` sums over them, as backprop through time sums a shared weight's gradient. A
layer applied once has records ``(B, ...)``. ``credax.nets.scan`` is ``jax.lax.scan`` with the
records of the layers its body applies carried out as stacked outputs; inside ``jax.lax.scan``
itself (or any other transformation the model applies) a trace cannot see the layers, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from credax._src.nets._layer import Hook, Layer, active_hooks
from credax._src.nets._select import find_layers, map_layers, only_layers, zeros_like

try:  # JAX >= 0.4.36
    from jax.extend.core import get_opaque_trace_state as _get_trace_state
except ImportError:  # pragma: no cover - older JAX
    _get_trace_state = None


def _trace_state():
    return None if _get_trace_state is None else _get_trace_state(convention="nnx")


# --- the recorder ---------------------------------------------------------------------------------


class _Recorder(Hook):
    """Collects, during one example's forward pass, what each credax layer of a model computed,
    and adds the offsets it was given to their pre-activations."""

    def __init__(self, model: Any = None, offsets: Sequence[Any] | None = None, *, parent=None):
        if parent is None:
            super().__init__(model)
        else:  # a recorder for the body of a scan: the same layers, records of its own
            self.layers, self.model_name = parent.layers, parent.model_name
            self._by_layer, self._by_weight = parent._by_layer, parent._by_weight
        n = len(self.layers)
        self.state = _trace_state()
        self.chunks: list[list] = [[] for _ in range(n)]  # per layer: (records, steps or None)
        self.order: list[int] = []
        self.offsets = [None] * n if offsets is None else list(offsets)
        self.cursor = [0] * n

    # where records may be taken
    def _check_context(self, layer: Layer) -> None:
        if self.state is not None and _trace_state() != self.state:
            raise ValueError(
                f"{self.model_name}: a credax {type(layer).__name__} was applied inside "
                "jax.lax.scan (or another JAX transformation inside the model, such as jax.vmap, "
                "jax.checkpoint or lax.cond) while credax traced the model; use "
                "credax.nets.scan, which takes jax.lax.scan's arguments, so that the layer's "
                "records come out stacked over the steps"
            )

    def preactivation(self, index, layer, a):
        self._check_context(layer)
        z = self.offsets[index]
        if z is None:
            return a
        out = tuple(layer.out_shape)
        shape = tuple(jnp.shape(z))
        if shape == out:  # a layer applied once
            if self.cursor[index]:
                raise ValueError(
                    f"{self.model_name}: layer {index} ({type(layer).__name__}) is applied more "
                    f"than once per example; expected its offsets of shape (B, N, "
                    f"{', '.join(map(str, out))}) with one entry per application, got (B, "
                    f"{', '.join(map(str, out))})"
                )
            self.cursor[index] = 1
            return a + z.astype(a.dtype)
        if len(shape) == len(out) + 1 and shape[1:] == out:
            k = self.cursor[index]
            if k >= shape[0]:
                raise ValueError(
                    f"{self.model_name}: layer {index} ({type(layer).__name__}) is applied more "
                    f"than the {shape[0]} times its offsets have entries for"
                )
            self.cursor[index] = k + 1
            return a + z[k].astype(a.dtype)
        raise ValueError(
            f"trace: expected offsets of shape (B, {', '.join(map(str, out))}) for layer {index} "
            f"({type(layer).__name__}), or (B, N, {', '.join(map(str, out))}) for a layer applied "
            f"N times, got (B, {', '.join(map(str, shape))})"
        )

    def record(self, index, layer, x, a, h, exposed):
        self._check_context(layer)
        self.chunks[index].append(((x, a, h, dict(exposed)), None))
        if index not in self.order:
            self.order.append(index)

    # scans
    def counts(self) -> list[int]:
        """Applications so far per layer."""
        return [sum(1 if n is None else n for _, n in c) for c in self.chunks]

    def stacked(self) -> list:
        """Per layer, its records stacked over its applications (None for an unused layer)."""
        out = []
        for i, chunks in enumerate(self.chunks):
            if not chunks:
                out.append(None)
                continue
            parts = [
                jax.tree_util.tree_map(lambda r: r[None], recs) if n is None else recs
                for recs, n in chunks
            ]
            keys = {tuple(sorted(p[3])) for p in parts}
            if len(keys) > 1:
                raise ValueError(
                    f"{self.model_name}: layer {i} exposed different internal quantities at "
                    f"different applications ({sorted(keys)})"
                )
            out.append(jax.tree_util.tree_map(lambda *r: jnp.concatenate(r), *parts))
        return out

    def absorb(self, index: int, records: Any, steps: int) -> None:
        self.chunks[index].append((records, steps))
        if index not in self.order:
            self.order.append(index)

    # the end of one example's pass
    def finish(self) -> tuple[list, list]:
        missing = [i for i, c in enumerate(self.chunks) if not c]
        if missing:
            raise ValueError(
                f"{self.model_name}: credax layer(s) {missing} were never applied to the input; "
                "trace and the rules built on it need each credax layer applied to every example"
            )
        for i, z in enumerate(self.offsets):
            if z is None:
                continue
            out = tuple(self.layers[i].out_shape)
            n = 1 if tuple(jnp.shape(z)) == out else jnp.shape(z)[0]
            if self.cursor[i] != n:
                raise ValueError(
                    f"{self.model_name}: layer {i} ({type(self.layers[i]).__name__}) was applied "
                    f"{self.counts()[i]} time(s) per example but its offsets have {n} "
                    f"entr{'y' if n == 1 else 'ies'}; expected offsets of shape "
                    f"{_offset_shape(self.counts()[i], out)}"
                )
        stacked = self.stacked()
        records, steps = [], []
        for chunks, st in zip(self.chunks, stacked):
            if len(chunks) == 1 and chunks[0][1] is None:
                records.append(chunks[0][0])
                steps.append(None)
            else:
                records.append(st)
                steps.append(int(st[1].shape[0]))
        return records, steps


def _offset_shape(n: int, out: tuple) -> str:
    dims = ", ".join(map(str, out))
    return f"(B, {dims})" if n == 1 else f"(B, {n}, {dims})"


def scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
):
    """``jax.lax.scan`` that ``credax.nets.trace`` can see into.

    Same arguments and result as ``jax.lax.scan``; outside a trace it is ``jax.lax.scan``. While
    a model is traced (by ``credax.nets.trace`` and every rule built on it), the credax layers
    that ``f`` applies are recorded at every step and their records leave the scan stacked over
    the steps (``(B, N, ...)`` in the trace, in the order of the scan's index): write a recurrent
    network, or a network iterating one weight matrix to a fixed point, with this scan.

    Examples:
        A layer applied at every step of a sequence, its records stacked over the 4 steps:

        >>> import jax, jax.numpy as jnp, equinox as eqx, credax
        >>> class RNN(eqx.Module):
        ...     cell: credax.nets.Dense
        ...     def __call__(self, xs):                       # xs: (T, 3)
        ...         def step(h, x_t):
        ...             h = self.cell(jnp.concatenate([x_t, h]))
        ...             return h, h
        ...         return credax.nets.scan(step, jnp.zeros(5), xs)[0]
        >>> net = RNN(credax.nets.Dense(8, 5, activation=jnp.tanh, key=0))
        >>> t = credax.nets.trace(net, jnp.ones((2, 4, 3)))
        >>> t.inputs[0].shape, t.steps
        ((2, 4, 8), (4,))
    """
    recorders = [h for h in active_hooks() if isinstance(h, _Recorder)]
    if not recorders:
        return lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)
    n_steps = _length(xs, length)

    def body_with(children, offsets_t):
        def body(carry, inp):
            x_t, z_t = inp
            for child, z in zip(children, z_t):
                child.state = _trace_state()
                child.offsets = list(z)
                child.cursor = [0] * len(z)
                child.chunks = [[] for _ in z]
            with _swapped(recorders, children):
                carry, y = f(carry, x_t)
            return carry, (y, [child.stacked() for child in children])

        return body

    # How often the body applies each layer, where offsets must be cut into per-step slices.
    need = [any(_stacked_offset(r, i) for i in range(len(r.layers))) for r in recorders]
    counts = [None] * len(recorders)
    if any(need):
        probes = [_Recorder(parent=r) for r in recorders]
        empty = [[None] * len(r.layers) for r in recorders]
        first = jax.tree_util.tree_map(lambda a: a[0], xs)
        jax.eval_shape(lambda c, x: body_with(probes, None)(c, (x, empty))[0], init, first)
        counts = [p.counts() for p in probes]
    slices = []
    for r, c in zip(recorders, counts):
        per_layer = []
        for i in range(len(r.layers)):
            z = r.offsets[i]
            if c is None or not c[i] or z is None:
                per_layer.append(None)
                continue
            out = tuple(r.layers[i].out_shape)
            if tuple(jnp.shape(z)) == out:
                raise ValueError(
                    f"{r.model_name}: layer {i} ({type(r.layers[i]).__name__}) is applied at "
                    f"every step of a credax.nets.scan; expected its offsets of shape (B, N, "
                    f"{', '.join(map(str, out))}) with one entry per application"
                )
            k, n = r.cursor[i], c[i] * n_steps
            if k + n > jnp.shape(z)[0]:
                raise ValueError(
                    f"{r.model_name}: layer {i} ({type(r.layers[i]).__name__}) is applied at "
                    f"least {k + n} times per example but its offsets have {jnp.shape(z)[0]} "
                    "entries"
                )
            r.cursor[i] = k + n
            per_layer.append(z[k : k + n].reshape(n_steps, c[i], *out))
        slices.append(per_layer)
    children = [_Recorder(parent=r) for r in recorders]
    carry, (ys, records) = lax.scan(
        body_with(children, slices),
        init,
        (xs, slices),
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    for r, recs in zip(recorders, records):
        for i, rec in enumerate(recs):
            if rec is not None:
                steps = n_steps * rec[1].shape[1]
                flat = jax.tree_util.tree_map(lambda a, n=steps: a.reshape(n, *a.shape[2:]), rec)
                r.absorb(i, flat, steps)
    return carry, ys


def _stacked_offset(r: _Recorder, i: int) -> bool:
    z = r.offsets[i]
    return z is not None and tuple(jnp.shape(z)) != tuple(r.layers[i].out_shape)


def _length(xs: Any, length: int | None) -> int:
    if length is not None:
        return int(length)
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("credax.nets.scan: expected xs with a leading axis, or length")
    return int(jnp.shape(leaves[0])[0])


class _swapped:
    """Replaces recorders by their children in the active hooks while a scan's body runs."""

    def __init__(self, old, new):
        self.swap = {id(o): n for o, n in zip(old, new)}

    def __enter__(self):
        from credax._src.nets import _layer

        self.saved = active_hooks()
        _layer._ACTIVE.hooks = tuple(self.swap.get(id(h), h) for h in self.saved)

    def __exit__(self, *exc):
        from credax._src.nets import _layer

        _layer._ACTIVE.hooks = self.saved
        return False


# --- trace ----------------------------------------------------------------------------------------


class Trace(eqx.Module):
    """What each credax layer computed on a batch (see :func:`trace`).

    Attributes:
        inputs: per layer (pytree order), ``h_{l-1}`` of shape ``(B, *in_shape)``, or
            ``(B, N, *in_shape)`` for a layer applied ``N`` times (``steps[l] = N``).
        preactivations: per layer, ``a_l`` of shape ``(B, *out_shape)`` (or ``(B, N, ...)``),
            offsets included.
        outputs: per layer, ``h_l = σ_l(a_l)``, shaped as ``preactivations``.
        internals: per layer, a dict of the named quantities the layer exposes (e.g. a
            membrane potential), each ``(B, ...)`` or ``(B, N, ...)``.
        output: the model's output ``(B, ...)``.
        order: layer indices in the order the model first applied them (static); ``order[-1]``
            is the layer applied last, which produces the output of a chain.
        steps: per layer, the number ``N`` of applications stacked on axis 1, or None for a
            layer applied once (static).
    """

    inputs: tuple
    preactivations: tuple
    outputs: tuple
    internals: tuple
    output: Any
    order: tuple = eqx.field(static=True)
    steps: tuple = eqx.field(static=True)


def _check_batch(x: Any) -> jax.Array:
    if not hasattr(x, "shape") and not hasattr(x, "__array__"):
        raise TypeError(f"trace: expected a batch x, an array (B, ...), got {type(x).__name__}")
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"trace: expected a batch x of shape (B, ...), got shape {x.shape}")
    return x


def trace(model: Any, x: jax.typing.ArrayLike, *, offsets: Sequence[Any] | None = None) -> Trace:
    """Each credax layer's input, pre-activation, output and exposed internals on a batch.

    Works on any model whose credax layers are applied to every example, in whatever wiring
    (``Sequential``, a user's equinox Module with skip connections, a recurrent network under
    ``credax.nets.scan``): the records are what each layer actually received and computed. In a
    chain (``Sequential``) ``inputs[l]`` is ``outputs[l-1]`` after any parameter-free maps
    between them. A layer applied ``N`` times per example has its records stacked on axis 1.

    Args:
        model: a layered credax model acting on one example.
        x: a batch ``(B, ...)``.
        offsets: optional, one array (or None) per layer added to its pre-activations,
            ``a_l ← a_l + z_l``: ``(B, *out_shape)`` for a layer applied once, ``(B, N,
            *out_shape)`` for one applied ``N`` times (the shapes of a clean trace's
            ``preactivations``; ``preactivation_shapes`` gives them).

    Returns:
        A :class:`Trace`; layers in pytree order (as ``find_layers``).

    Raises:
        ValueError: naming the model type, when a credax layer is never applied, is not part
            of the model's pytree, is applied inside ``jax.lax.scan`` rather than
            ``credax.nets.scan``, or when offsets do not fit.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=0)
        >>> t = credax.nets.trace(net, jnp.ones((5, 3)))
        >>> [h.shape for h in t.inputs], t.outputs[-1].shape, t.order
        ([(5, 3), (5, 4)], (5, 2), (0, 1))
    """
    layers = find_layers(model)
    x = _check_batch(x)
    if offsets is not None:
        if isinstance(offsets, Mapping) or not isinstance(offsets, Sequence):
            raise TypeError(
                f"trace: expected offsets to be a list with one array (or None) per credax layer, "
                f"got {type(offsets).__name__}"
            )
        offsets = [None if z is None else jnp.asarray(z) for z in offsets]
        if len(offsets) != len(layers):
            raise ValueError(
                f"trace: expected one offset per credax layer ({len(layers)}), got {len(offsets)}"
            )
        for i, (layer, z) in enumerate(zip(layers, offsets)):
            out = tuple(layer.out_shape)
            fits = z is None or (
                z.ndim >= 1
                and z.shape[0] == x.shape[0]
                and (z.shape[1:] == out or (z.ndim == len(out) + 2 and z.shape[2:] == out))
            )
            if not fits:
                dims = ", ".join(map(str, out))
                raise ValueError(
                    f"trace: expected offsets of shape ({x.shape[0]}, {dims}) for layer {i} "
                    f"({type(layer).__name__}), or ({x.shape[0]}, N, {dims}) for a layer applied "
                    f"N times, got {z.shape}"
                )
    meta: list = []

    def one(xi, zi):
        rec = _Recorder(model, zi)
        with rec:
            out = model(xi)
        records, steps = rec.finish()
        meta.append((tuple(rec.order), tuple(steps)))
        return out, records

    out, records = jax.vmap(one)(x, offsets)
    ins, pre, outs, internals = zip(*records)
    order, steps = meta[-1]
    return Trace(tuple(ins), tuple(pre), tuple(outs), tuple(internals), out, order, steps)


def preactivation_shapes(model: Any, x: jax.typing.ArrayLike) -> list[jax.ShapeDtypeStruct]:
    """The shapes and dtypes of ``trace(model, x).preactivations``, found without computing
    anything: what offsets for ``trace`` must look like."""
    return list(jax.eval_shape(lambda xx: trace(model, xx).preactivations, _check_batch(x)))


def call_order(model: Any, in_shape: Sequence[int] | None = None) -> tuple[int, ...]:
    """The order (as ``find_layers`` indices) in which ``model`` first applies its credax
    layers, found by tracing it abstractly (no computation). ``in_shape`` is one example's
    shape; by default each layer's ``in_shape`` is tried as the model's input until one fits."""
    from credax._src.nets._containers import declared_input_shape

    layers = find_layers(model)
    declared = declared_input_shape(model)
    shapes = (
        [tuple(in_shape)]
        if in_shape is not None
        else list(
            dict.fromkeys(
                ([declared] if declared else []) + [tuple(layer.in_shape) for layer in layers]
            )
        )
    )
    errors = []
    for shape in shapes:
        dtype = layers[0].weight.dtype
        try:
            box = []
            jax.eval_shape(
                lambda xx, box=box: box.append(trace(model, xx).order),
                jax.ShapeDtypeStruct((1, *shape), dtype),
            )
            return box[0]
        except (ValueError, TypeError) as e:
            errors.append(str(e))
    raise ValueError(
        f"{type(model).__name__}: could not apply the model to an input of any of its layers' "
        f"input shapes {shapes}: {errors[-1] if errors else ''}"
    )


# --- local updates --------------------------------------------------------------------------------


def _leading(name: str, i: int, layer: Layer, arr: jax.Array, shape: tuple) -> tuple:
    k = arr.ndim - len(shape)
    if k < 1 or tuple(arr.shape[k:]) != tuple(shape):
        raise ValueError(
            f"local_updates: layer {i} ({type(layer).__name__}) expects {name} of shape "
            f"(B, {', '.join(map(str, shape))}) or (B, N, {', '.join(map(str, shape))}) for a "
            f"layer applied N times, got {arr.shape}"
        )
    return tuple(arr.shape[:k])


def local_updates(model: Any, inputs: Sequence[Any], deltas: Sequence[Any]) -> Any:
    """Per-layer errors at the pre-activations, turned into updates with the model's tree.

    For layer ``l`` with input ``h_{l-1}`` and error ``δ_l = ∂E/∂a_l`` (per example, already
    scaled as the objective wants, e.g. divided by ``B`` for a batch mean)::

        ΔW_l = Σ_n Σ_t δ_l[n, t] h_{l-1}[n, t]ᵀ   (dense; the matching correlation for a conv)
        Δb_l = Σ_n Σ_t δ_l[n, t]                  (summed over positions for a convolution)

    the sum over ``t`` running over the applications of a layer applied at several steps
    (records ``(B, N, ...)``), computed as the pullback of ``W, b ↦ f(W, h_{l-1}) + b`` at
    ``δ_l``: one matrix product per layer. The result has a gradient's sign when ``δ_l`` is a
    gradient (rules that descend ``E`` pass ``δ_l``; Hebbian rules pass ``δ_l = -y`` to get
    ``updates = -Δw``).

    Args:
        model: a layered credax model.
        inputs: one array per credax layer (pytree order), ``(B, *in_shape)`` or ``(B, N,
            *in_shape)``, e.g. ``trace(model, x).inputs``; None for a layer without update.
        deltas: one array per layer shaped like its pre-activations, or None (zero update).

    Returns:
        Updates with ``model``'s structure, shapes and dtypes; arrays outside credax layers are
        zero, leaves that are not floating-point arrays None.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=0)
        >>> t = credax.nets.trace(net, jnp.ones((5, 3)))
        >>> u = credax.nets.local_updates(net, t.inputs, [None, jnp.ones((5, 2))])
        >>> u.layers[1].weight.shape, float(u.layers[1].bias[0]), float(u.layers[0].weight.sum())
        ((2, 4), 5.0, 0.0)
    """
    layers = find_layers(model)
    for name, seq in (("inputs", inputs), ("deltas", deltas)):
        if isinstance(seq, Mapping) or not isinstance(seq, Sequence):
            raise TypeError(
                f"local_updates: expected {name} to be a list with one array (or None) per credax "
                f"layer, got {type(seq).__name__}"
            )
    inputs, deltas = list(inputs), list(deltas)
    if len(inputs) != len(layers) or len(deltas) != len(layers):
        raise ValueError(
            f"local_updates: expected one input and one delta per credax layer ({len(layers)}), "
            f"got {len(inputs)} inputs and {len(deltas)} deltas"
        )
    grads = []
    for i, (layer, h, d) in enumerate(zip(layers, inputs, deltas)):
        if h is None or d is None:
            grads.append(zeros_like(layer))
            continue
        h, d = jnp.asarray(h), jnp.asarray(d)
        for name, arr in (("inputs", h), ("deltas", d)):
            if not jnp.issubdtype(arr.dtype, jnp.floating):
                raise TypeError(
                    f"local_updates: expected real floating-point {name} for layer {i}, got "
                    f"dtype {arr.dtype}"
                )
        lead_h = _leading("inputs", i, layer, h, tuple(layer.in_shape))
        lead_d = _leading("deltas", i, layer, d, tuple(layer.out_shape))
        if lead_h != lead_d:
            raise ValueError(
                f"local_updates: layer {i} ({type(layer).__name__}) expects inputs "
                f"(B, {', '.join(map(str, layer.in_shape))}) and deltas "
                f"(B, {', '.join(map(str, layer.out_shape))}) with the same B (and N), got "
                f"{h.shape} and {d.shape}"
            )
        h = h.reshape(-1, *layer.in_shape)
        d = d.reshape(-1, *layer.out_shape)
        a, pullback = eqx.filter_vjp(lambda l, h=h: jax.vmap(l.preactivation)(h), layer)
        grads.append(pullback(d.astype(a.dtype))[0])
    return only_layers(map_layers(lambda i, l: grads[i], model))
