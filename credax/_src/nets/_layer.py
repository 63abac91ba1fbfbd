"""The layer base class and hooks: what a credax layer computes, and how rules observe or
change it while a function runs.

A credax layer computes ``a = f(W, x) + b`` and ``h = σ(a)`` for ONE example, where ``f`` is
linear in each argument (a dense or convolutional map) and ``σ`` is any function of the whole
pre-activation: elementwise like ``tanh``, an operator over a leading time axis (a leaky
integrator, a spiking neuron simulated by ``lax.scan``), or a step of a neuron with a state
carried from one call to the next (a membrane potential). Batching is left to ``jax.vmap``.

Hooks are how rules reach into a model they did not write. While a :class:`Hook` is active
(``with hook: ...``), every credax layer of the model it was made for asks it, as it computes,
whether to compute ``f`` differently (feedback transport: ``B`` in place of ``W`` on the backward
path), to shift ``a`` (the noise of perturbation rules, or zeros to differentiate at ``a``), to
tap ``h`` (direct feedback), and tells it what it computed (``credax.nets.trace``). Hooks find
their layers by identity in the model's pytree, so they work in any wiring of credax layers
inside any JAX code the model runs, and cost nothing once compiled.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

_NO_STATE = object()


def identity(x: jax.Array) -> jax.Array:
    """The identity activation."""
    return x


# --- hooks ----------------------------------------------------------------------------------------

_ACTIVE = threading.local()


def active_hooks() -> tuple:
    """The hooks active on this thread, outermost first."""
    return getattr(_ACTIVE, "hooks", ())


class Hook:
    """Observes or changes what the credax layers of one model compute while it is active.

    Subclasses override any of ``linear``, ``preactivation``, ``output`` and ``record``; each
    receives the layer's index in ``find_layers(model)`` order. Use as a context manager around
    the code that applies the model (inside any transformation: the hook looks layers up by
    identity when they are called, so it must be entered where the model's arrays are the
    ones the layers will see, e.g. inside the function given to ``jax.grad``).

    Args:
        model: the layered model whose credax layers this hook serves.
    """

    def __init__(self, model: Any):
        from credax._src.nets._select import find_layers

        self.layers = find_layers(model)
        self.model_name = type(model).__name__
        self._by_layer: dict[int, int] = {}
        weights: dict[int, list[int]] = {}
        for i, layer in enumerate(self.layers):
            if id(layer) in self._by_layer:
                raise ValueError(
                    f"{self.model_name}: the same {type(layer).__name__} object appears twice in "
                    "the model's pytree (tied weights); share a layer by applying one layer "
                    "object several times (a loop, credax.nets.scan, or equinox.nn.Shared), so "
                    "that it is one set of parameters"
                )
            self._by_layer[id(layer)] = i
            weights.setdefault(id(layer.weight), []).append(i)
        # A copy of a layer (e.g. made by eqx.tree_at inside __call__) keeps its weight array.
        self._by_weight = {k: v[0] for k, v in weights.items() if len(v) == 1}

    def site(self, layer: Layer) -> int:
        """The index of ``layer`` in the model, or a ``ValueError`` naming the model."""
        i = self._by_layer.get(id(layer))
        if i is None:
            i = self._by_weight.get(id(layer.weight))
        if i is None:
            raise ValueError(
                f"{self.model_name}: a credax {type(layer).__name__} that is not part of the "
                "model's pytree was called (a layer closed over or built inside __call__); "
                "credax rules need every credax layer the model applies to be one of its fields"
            )
        return i

    def linear(self, index: int, layer: Layer, x: jax.Array) -> jax.Array | None:
        """``f(W, x)`` computed otherwise, or None to leave it to the layer."""
        return None

    def preactivation(self, index: int, layer: Layer, a: jax.Array) -> jax.Array:
        """The pre-activation the layer goes on with (default: unchanged)."""
        return a

    def output(self, index: int, layer: Layer, h: jax.Array) -> jax.Array:
        """The output the layer returns (default: unchanged)."""
        return h

    def record(self, index: int, layer: Layer, x, a, h, exposed: Mapping[str, Any]) -> None:
        """Told what the layer received and computed."""

    def __enter__(self):
        _ACTIVE.hooks = (*active_hooks(), self)
        return self

    def __exit__(self, *exc):
        hooks = active_hooks()
        _ACTIVE.hooks = tuple(h for h in hooks if h is not self)
        return False


# --- the layer base class -------------------------------------------------------------------------


class Layer(eqx.Module):
    """The public base of every parametrised credax layer: ``h = σ(f(W, x) + b)``.

    Every rule in credax assigns credit to the weights ``W`` and biases ``b`` of ``Layer``
    instances: feedback-path rules replace ``W`` by ``B`` on the backward path of ``f``, direct
    feedback taps ``h``, local rules read what each layer received and computed from
    ``credax.nets.trace`` and turn errors at ``a`` into updates with
    ``credax.nets.local_updates``.

    To write a new layer, subclass ``Layer`` (an equinox Module) and provide:

    - fields ``weight`` (an array), ``bias`` (an array or None) and ``activation`` (a callable
      declared ``eqx.field(static=True)``, or a property);
    - ``linear``: a property returning a static function ``f(W, x)`` for ONE example, linear in
      ``W`` and in ``x`` separately (feedback alignment uses ``f(B, ·)`` on the backward path);
    - ``in_shape`` and ``out_shape``: the shapes of one input example and of ``a`` (and ``h``);
    - optionally ``bias_term()``: ``b`` broadcast to ``out_shape`` (default: aligned with the
      trailing axes; a convolution puts it on channels);
    - optionally ``activate(a, state) -> (h, state, exposed)``: the activation with the state it
      carries from one call to the next and the named internal quantities it shows to
      ``credax.nets.trace`` (default ``(activation(a), state, {})``), with
      ``initial_state()`` giving the state at the start of a sequence (default None: no state).

    ``activation`` receives the whole pre-activation ``a`` of one example, so it may couple units
    or time steps: an operator over a leading time axis is as valid as ``tanh``. Rules
    differentiate through it.

    A layer with a state is called ``h, state = layer(x, state)``, as spiking-network libraries
    call their neurons: a membrane potential, say, carried through a ``credax.nets.scan`` over
    time steps (the state is per sequence, like ``lax.scan``'s carry, not kept across calls as
    ``equinox.nn.State`` keeps running statistics). Called without a state, it starts from
    ``initial_state()`` and returns ``h`` alone. Each call's ``exposed`` values (e.g.
    ``{"membrane": v}``) appear in ``credax.nets.trace(...).internals``.

    Examples:
        A dense layer applied at every step of a sequence, with a leaky integrator over time as
        its activation (inputs ``(T, n_in)``):

        >>> import jax, jax.numpy as jnp, equinox as eqx, credax
        >>> def leaky(a, decay=0.8):
        ...     step = lambda v, a_t: (decay * v + a_t,) * 2
        ...     return jnp.tanh(jax.lax.scan(step, jnp.zeros(a.shape[1:]), a)[1])
        >>> class TimeDense(credax.nets.Layer):
        ...     weight: jax.Array
        ...     bias: jax.Array
        ...     activation: callable = eqx.field(static=True)
        ...     steps: int = eqx.field(static=True)
        ...     def __init__(self, steps, n_in, n_out, *, key):
        ...         self.weight = jax.random.normal(key, (n_out, n_in)) / n_in**0.5
        ...         self.bias = jnp.zeros(n_out)
        ...         self.activation, self.steps = leaky, steps
        ...     @property
        ...     def linear(self):
        ...         return lambda w, x: x @ w.T
        ...     @property
        ...     def in_shape(self):
        ...         return (self.steps, self.weight.shape[1])
        ...     @property
        ...     def out_shape(self):
        ...         return (self.steps, self.weight.shape[0])
        >>> layer = TimeDense(5, 3, 4, key=jax.random.key(0))
        >>> layer(jnp.ones((5, 3))).shape
        (5, 4)
    """

    weight: eqx.AbstractVar[jax.Array]
    bias: eqx.AbstractVar[jax.Array | None]
    activation: eqx.AbstractVar[Callable]

    @property
    @abc.abstractmethod
    def linear(self) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """``f(W, x)``: a static function, linear in each argument, giving the pre-activation
        without the bias for one example."""

    @property
    @abc.abstractmethod
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input example."""

    @property
    @abc.abstractmethod
    def out_shape(self) -> tuple[int, ...]:
        """Shape of one output example (and of the pre-activation)."""

    def bias_term(self) -> jax.Array | None:
        """``b`` broadcast to ``out_shape``, aligned with its trailing axes (None without a
        bias)."""
        if self.bias is None:
            return None
        return jnp.broadcast_to(self.bias, tuple(self.out_shape))

    def preactivation(self, x: jax.Array) -> jax.Array:
        """``a = f(W, x) + b`` for one example, with backprop's own backward pass."""
        a = self.linear(self.weight, x)
        bias = self.bias_term()
        return a if bias is None else a + bias

    def initial_state(self) -> Any:
        """The state at the start of a sequence, for one example (None: a stateless layer)."""
        return None

    def activate(self, a: jax.Array, state: Any) -> tuple[jax.Array, Any, dict]:
        """``(h, state, exposed)``: the output for pre-activation ``a``, the state carried to the
        next call, and named internal quantities shown to ``credax.nets.trace``."""
        return self.activation(a), state, {}

    def __call__(self, x: jax.Array, state: Any = _NO_STATE):
        x = jnp.asarray(x)
        if x.shape != tuple(self.in_shape):
            if x.ndim > len(self.in_shape):
                hint = " (a layer takes one example: map it over a batch with jax.vmap)"
            elif x.ndim < len(self.in_shape):
                hint = (
                    " (credax.nets.trace, rules and predict take a batch (B, ...): is its batch "
                    "axis missing?)"
                )
            else:
                hint = ""
            raise ValueError(
                f"{type(self).__name__} expects one example of shape {tuple(self.in_shape)}, got "
                f"an array of shape {x.shape}{hint}"
            )
        given = state is not _NO_STATE
        state_in = state if given else self.initial_state()
        hooks = active_hooks()
        if not hooks:
            h, state_out, _ = self.activate(self.preactivation(x), state_in)
            return (h, state_out) if given else h
        sites = [(hook, hook.site(self)) for hook in hooks]
        a = None
        for hook, i in reversed(sites):  # the innermost hook that computes f otherwise
            a = hook.linear(i, self, x)
            if a is not None:
                break
        if a is None:
            a = self.linear(self.weight, x)
        bias = self.bias_term()
        if bias is not None:
            a = a + bias
        for hook, i in sites:
            a = hook.preactivation(i, self, a)
        h, state_out, exposed = self.activate(a, state_in)
        if not isinstance(exposed, Mapping):
            raise TypeError(
                f"{type(self).__name__}.activate must return (h, state, exposed) with exposed a "
                f"dict of named arrays, got {type(exposed).__name__}"
            )
        for hook, i in sites:
            h = hook.output(i, self, h)
        for hook, i in sites:
            hook.record(i, self, x, a, h, exposed)
        return (h, state_out) if given else h
