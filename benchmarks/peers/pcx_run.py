"""The pcx half of ``benchmarks/pc_side_by_side.py``: a predictive-coding MLP trained with pcx.

Runs in its own virtual environment (pcx pins an older JAX and equinox than credax), started by
``pc_side_by_side.py`` as ``.peers/pcx/bin/python benchmarks/peers/pcx_run.py CONFIG.json``. It
imports neither credax nor anything else from this repository: the data, the initial weights and
the settings arrive as files named in the config; the results leave as a JSON file, plus an
``.npz`` of the weight gradient on the first batch (the energy check).

The network is the one of pcx's tutorials: a value node (``pxc.Vode``) after every layer, the
squared-error energy ``½‖h - u‖²`` at the hidden nodes and pcx's cross-entropy energy
``-Σ y log softmax(u)`` at the output node, frozen to the one-hot label. The energy is ``pmean``
over the batch, as in pcx's examples, so the value-node SGD rate is ``γ · batch_size`` (pcx's
examples scale it so too): each example's step is then ``γ ∂F/∂h``, as credax's. Inference is a
Python loop of ``T`` steps inside one ``pxf.jit`` (as pcx's examples write it); training calls
that jitted step once per batch from Python, with batches sliced from host arrays.

Several seeds run two ways: ``pxf.vmap`` of the training step over a seed axis (weights, value
nodes and Adam state stacked), and a Python loop over seeds that reuses one model.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pcx as px
import pcx.functional as pxf
import pcx.nn as pxnn
import pcx.predictive_coding as pxc
import pcx.utils as pxu

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}
BATCHED = pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0))
PER_SEED = pxu.M(pxnn.LayerParam | pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0))


class PCMLP(pxc.EnergyModule):
    """An MLP with a value node after every layer; the output node holds the label."""

    def __init__(self, sizes, act_fn):
        super().__init__()
        self.act_fn = px.static(act_fn)
        self.layers = [pxnn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        self.vodes = [pxc.Vode() for _ in sizes[1:-1]] + [pxc.Vode(pxc.ce_energy)]
        self.vodes[-1].h.frozen = True  # the output node is clamped to the label

    def __call__(self, x, y):
        for vode, layer in zip(self.vodes[:-1], self.layers[:-1]):
            x = vode(self.act_fn(layer(x)))
        self.vodes[-1](self.layers[-1](x))
        if y is not None:
            self.vodes[-1].set("h", y)
        return self.vodes[-1].get("u")

    def logits(self, x):
        """The feedforward pass, leaving the value nodes alone (for evaluation)."""
        for layer in self.layers[:-1]:
            x = self.act_fn(layer(x))
        return self.layers[-1](x)


@pxf.vmap(BATCHED, in_axes=(0, 0), out_axes=0)
def forward(x, y, *, model):
    return model(x, y)


@pxf.vmap(BATCHED, in_axes=(0,), out_axes=(None, 0), axis_name="batch")
def energy(x, *, model):
    y_ = model(x, None)
    return jax.lax.pmean(model.energy(), "batch"), y_


def _relax_and_grad(T, x, y, model, optim_h):
    """Forward initialisation, ``T`` value-node steps, then the weight gradient at the relaxed
    values (returned, not applied)."""
    with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
        forward(x, y, model=model)
    for _ in range(T):
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            _, g = pxf.value_and_grad(
                pxu.M_hasnot(pxc.VodeParam, frozen=True).to([False, True]), has_aux=True
            )(energy)(x, model=model)
        optim_h.step(model, g["model"])
    with pxu.step(model, clear_params=pxc.VodeParam.Cache):
        (e, _), g = pxf.value_and_grad(pxu.M(pxnn.LayerParam).to([False, True]), has_aux=True)(
            energy
        )(x, model=model)
    return e, g


def _train_step(T, x, y, model, optim_w, optim_h):
    model.train()
    e, g = _relax_and_grad(T, x, y, model, optim_h)
    optim_w.step(model, g["model"])
    return e


@pxf.jit(static_argnums=0)
def train_on_batch(T, x, y, *, model, optim_w, optim_h):
    return _train_step(T, x, y, model, optim_w, optim_h)


@pxf.jit(static_argnums=0)
def train_on_batch_seeds(T, x, y, *, model, optim_w, optim_h):
    """One step of every seed: ``x`` ``(S, B, ...)``; weights, value nodes and Adam state carry
    a leading seed axis."""

    @pxf.vmap({"model": PER_SEED, "optim_w": 0, "optim_h": None}, in_axes=(0, 0), out_axes=0)
    def one(x, y, *, model, optim_w, optim_h):
        return _train_step(T, x, y, model, optim_w, optim_h)

    return one(x, y, model=model, optim_w=optim_w, optim_h=optim_h)


@pxf.jit(static_argnums=0)
def batch_gradient(T, x, y, *, model, optim_h):
    """The weight gradient on one batch (for the energy check against credax)."""
    _, g = _relax_and_grad(T, x, y, model, optim_h)
    return [(l.nn.weight.get(), l.nn.bias.get()) for l in g["model"].layers]


@pxf.jit()
def predict(x, *, model):
    return jax.vmap(model.logits)(x).argmax(-1)


@pxf.jit()
def predict_seeds(x, *, model):
    @pxf.vmap({"model": PER_SEED}, in_axes=(None,), out_axes=0)
    def one(x, *, model):
        return jax.vmap(model.logits)(x).argmax(-1)

    return one(x, model=model)


@functools.lru_cache
def _optimizers(rate_h, lr):
    """The optimizer constructors ``pxu.Optim`` takes, made once: the optimizer is a static part
    of the jitted step's input, so every model must hold the same objects for the compiled step
    to be reused (fresh ``optax`` closures would recompile it).

    SGD on the value nodes at rate ``γ·B``: the energy is a batch mean, so each example's step is
    ``γ ∂F_i/∂h_i``."""
    sgd, adam = optax.sgd(rate_h), optax.adam(lr)
    return (lambda: sgd), (lambda: adam)


def build(cfg, init, n_seeds=None, activation=None):
    """A model with the given initial weights (stacked over ``n_seeds`` seeds when given), and
    its value-node and weight optimizers."""
    model = PCMLP(cfg["sizes"], ACTIVATIONS[activation or cfg["activation"]])
    set_weights(model, init)
    x0 = jnp.zeros((cfg["batch_size"], cfg["sizes"][0]))
    if n_seeds is None:
        with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
            forward(x0, None, model=model)
    else:

        @pxf.vmap({"model": PER_SEED}, in_axes=(0,), out_axes=0)
        def init_nodes(x, *, model):
            with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
                return forward(x, None, model=model)

        init_nodes(jnp.broadcast_to(x0, (n_seeds, *x0.shape)), model=model)
    opt_h, opt_w = _optimizers(cfg["inference_rate"] * cfg["batch_size"], cfg["lr"])
    optim_h = pxu.Optim(opt_h, pxu.M_hasnot(pxc.VodeParam, frozen=True)(model))
    optim_w = pxu.Optim(opt_w, pxu.M(pxnn.LayerParam)(model))
    if n_seeds is not None:  # Adam's step count, one per seed
        optim_w.state.set(
            jax.tree_util.tree_map(
                lambda a: jnp.broadcast_to(a, (n_seeds,)) if a.ndim == 0 else a,
                optim_w.state.get(),
            )
        )
    return model, optim_w, optim_h


def set_weights(model, init):
    for i, layer in enumerate(model.layers):
        w, b = init[f"w{i}"], init[f"b{i}"]
        # one seed's weights, or a stack of seeds' (a leading seed axis)
        assert layer.nn.weight.shape[-2:] == w.shape[-2:], (layer.nn.weight.shape, w.shape)
        assert layer.nn.bias.shape[-1:] == b.shape[-1:], (layer.nn.bias.shape, b.shape)
        layer.nn.weight.set(jnp.asarray(w))
        layer.nn.bias.set(jnp.asarray(b))


def reset(model, optim_w, init):
    """Starts the same model objects over from new initial weights, with Adam's initial (all
    zero) state.

    ``pxu.Optim`` keeps, as a static part of the jitted step's input, a filter shaped like the
    model it was built for, compared by identity: a new model per seed would recompile the step
    for every seed (about 4 s each here). Reusing the objects keeps one compiled step."""
    set_weights(model, init)
    optim_w.state.set(jax.tree_util.tree_map(jnp.zeros_like, optim_w.state.get()))


def evaluate(model, x, y, seeds=False, chunk=2000):
    """Test accuracy (per seed when the model is stacked over seeds)."""
    hits = 0
    f = predict_seeds if seeds else predict
    for i in range(0, len(x), chunk):
        hits = hits + (np.asarray(f(x[i : i + chunk], model=model)) == y[i : i + chunk]).sum(-1)
    return np.asarray(hits / len(x)).tolist()


def train(cfg, data, model, optim_w, optim_h, data_seeds):
    """``epochs`` epochs, reshuffled every epoch with a NumPy generator per seed (the last
    partial batch dropped, as credax does); ``data_seeds`` is an int (one model) or a list (a
    model stacked over seeds). Returns the test accuracy before training and after every epoch
    (``[record]`` or ``[record][seed]``)."""
    xtr, ytr1h, xte, yte = data
    B, T = cfg["batch_size"], cfg["inference_steps"]
    n = len(xtr)
    stacked = not isinstance(data_seeds, int)
    rngs = [np.random.default_rng(s) for s in (data_seeds if stacked else [data_seeds])]
    step = train_on_batch_seeds if stacked else train_on_batch
    acc = [evaluate(model, xte, yte, stacked)]
    for _ in range(cfg["epochs"]):
        perms = [r.permutation(n) for r in rngs]
        for s in range(n // B):
            idx = np.stack([p[s * B : (s + 1) * B] for p in perms])  # [seed, batch]
            idx = idx if stacked else idx[0]
            e = step(T, xtr[idx], ytr1h[idx], model=model, optim_w=optim_w, optim_h=optim_h)
        acc.append(evaluate(model, xte, yte, stacked))
    jax.block_until_ready(e)
    return acc


def compile_seconds(cfg, data, model, optim_w, optim_h, n_seeds=None):
    """The first call of the training step and of the evaluation (trace, compile, run) less a
    later call of each."""
    xtr, ytr1h, xte, yte = data
    B, T = cfg["batch_size"], cfg["inference_steps"]
    if n_seeds is None:
        x, y, step = xtr[:B], ytr1h[:B], train_on_batch
    else:
        x = np.broadcast_to(xtr[:B], (n_seeds, *xtr[:B].shape))
        y = np.broadcast_to(ytr1h[:B], (n_seeds, *ytr1h[:B].shape))
        step = train_on_batch_seeds

    def timed(f):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        return time.perf_counter() - t0

    call = lambda: step(T, x, y, model=model, optim_w=optim_w, optim_h=optim_h)  # noqa: E731
    ev = lambda: evaluate(model, xte, yte, n_seeds is not None)  # noqa: E731
    first, first_ev = timed(call), timed(ev)
    later = float(np.median([timed(call) for _ in range(5)]))
    return first - later + first_ev - timed(ev)


def main(config_path):
    cfg = json.loads(Path(config_path).read_text())
    d = np.load(cfg["data"])
    k = cfg["sizes"][-1]
    xtr, ytr = d["x_train"], d["y_train"]
    data = (xtr, np.eye(k, dtype=np.float32)[ytr], d["x_test"], d["y_test"])
    inits = np.load(cfg["inits"])
    one = {n.split("/", 1)[1]: inits[n] for n in inits.files if n.startswith("one/")}
    many = {n.split("/", 1)[1]: inits[n] for n in inits.files if n.startswith("many/")}
    B, T, E = cfg["batch_size"], cfg["inference_steps"], cfg["epochs"]
    n_seeds = cfg["n_seeds"]
    samples = E * (len(xtr) // B) * B
    px.RKG.seed(0)  # only pcx's own initialisation draws from it; the weights are replaced
    out = {
        "versions": {
            "pcx": _version("pcx"),
            "jax": jax.__version__,
            "jaxlib": _version("jaxlib"),
            "equinox": _version("equinox"),
            "optax": _version("optax"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "backend": jax.default_backend(),
        "device": getattr(jax.devices()[0], "device_kind", str(jax.devices()[0])),
    }
    log = lambda s: print(f"  pcx: {s}", flush=True)  # noqa: E731

    # Energy check: the weight gradient on the first batch from credax's one-seed weights, with
    # each activation of ``check_activations``.
    checked = {}
    for a in cfg["check_activations"]:
        model, _, optim_h = build(cfg, one, activation=a)
        grads = batch_gradient(T, xtr[:B], data[1][:B], model=model, optim_h=optim_h)
        for i, wb in enumerate(grads):
            for n, g in zip("wb", wb):
                checked[f"{a}/{n}{i}"] = np.asarray(g)
    np.savez(cfg["grads_out"], **checked)
    model, optim_w, optim_h = build(cfg, one)

    # One seed: the whole training (with the per-epoch evaluations), repeated; median time.
    c = compile_seconds(cfg, data, model, optim_w, optim_h)
    runs = []
    for r in range(cfg["repeats"]):
        reset(model, optim_w, one)
        t0 = time.perf_counter()
        acc = train(cfg, data, model, optim_w, optim_h, cfg["data_seed"])
        runs.append(time.perf_counter() - t0)
        log(f"one seed, run {r + 1}: {runs[-1]:.1f} s, test accuracy {100 * acc[-1]:.2f}%")
    secs = float(np.median(runs))
    single = model, optim_w, optim_h
    out["one_seed"] = {
        "method": "one model, one jitted step per batch",
        "test_accuracy": acc,
        "compile_seconds": c,
        "seconds_runs": runs,
        "seconds": secs,
        "samples_per_s": samples / secs,
    }
    data_seeds = [cfg["data_seed"] + 1 + i for i in range(n_seeds)]

    # Many seeds, vmapped: one stacked model, one jitted step per batch for all seeds.
    model, optim_w, optim_h = build(cfg, many, n_seeds)
    c = compile_seconds(cfg, data, model, optim_w, optim_h, n_seeds)
    runs = []
    for r in range(cfg["repeats_many"]):
        reset(model, optim_w, many)
        t0 = time.perf_counter()
        acc = train(cfg, data, model, optim_w, optim_h, data_seeds)
        runs.append(time.perf_counter() - t0)
        log(f"{n_seeds} seeds (pxf.vmap), run {r + 1}: {runs[-1]:.1f} s")
    secs = float(np.median(runs))
    out["many_seeds"] = {
        "method": "pxf.vmap over a seed axis (weights, value nodes, Adam state stacked), "
        "one jitted step per batch for all seeds",
        "n_seeds": n_seeds,
        "test_accuracy": np.asarray(acc).T.tolist(),  # [seed][record]
        "compile_seconds": c,
        "seconds_runs": runs,
        "seconds": secs,
        "samples_per_s": n_seeds * samples / secs,
    }

    # Many seeds, a Python loop: one model reused (new weights, fresh Adam state per seed).
    if cfg.get("loop", True):
        model, optim_w, optim_h = single  # the one-seed objects: their step is compiled
        accs = []
        t0 = time.perf_counter()
        for i in range(n_seeds):
            reset(model, optim_w, {k_: v[i] for k_, v in many.items()})
            accs.append(train(cfg, data, model, optim_w, optim_h, data_seeds[i]))
        secs = time.perf_counter() - t0
        log(f"{n_seeds} seeds (Python loop): {secs:.1f} s")
        out["many_seeds_loop"] = {
            "method": "Python loop over seeds, one model reused (one run, not repeated)",
            "n_seeds": n_seeds,
            "test_accuracy": accs,
            "seconds": secs,
            "samples_per_s": n_seeds * samples / secs,
        }
    Path(cfg["out"]).write_text(json.dumps(out, indent=1))


def _version(name):
    from importlib.metadata import version

    try:
        return version(name)
    except Exception:
        return None


if __name__ == "__main__":
    main(sys.argv[1])
