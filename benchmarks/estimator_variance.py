"""Variance and single-draw cosine of the perturbation rules and feedback alignment as an MLP grows.

Setup: tanh MLPs ``40 -> hidden... -> 10`` (``credax.nets.mlp``, Glorot-uniform weights, zero
biases) on a fixed batch of ``--batch`` MNIST-1D training examples, softmax cross-entropy. Two
sweeps: hidden width ``--widths`` at depth 2, and depth ``--depths`` hidden layers of width
``--depth-width``. At every point and for every init seed, ``credax.metrics.estimator_statistics``
takes ``--draws`` independent updates of each rule (all draws one ``jax.vmap``, the statistics one
jitted program) and compares them with ``jax.grad`` of the batch loss. Measured twice: at
initialisation (``init``) and after ``--train-steps`` Adam steps of backprop on the MNIST-1D
training set (``trained``), so that the gradient is not only the one at init.

Rules (all with credax's defaults unless said): ``bp`` backprop (the zero-variance reference);
``wp`` weight perturbation (σ = 1e-3, one-sided); ``np`` node perturbation (σ = 1e-3, one-sided,
all layers' pre-activations); ``reinforce`` Gaussian units, σ = 0.1, no baseline
(``baseline_decay=None``; a fresh state's running-mean baseline is empty anyway);
``reinforce_bl`` the same with the noise-free per-example reward as baseline; ``agrel``
``signed=True`` (the unbiased variant; the default gated one is biased by design); ``fg`` forward
gradient with weight tangents; ``fga`` forward gradient with activity tangents; ``fa`` feedback
alignment, whose draws are its feedback matrices (its mean over draws is not the gradient:
hidden-layer updates average to zero over ``B``, so its bias angle is structural).

Figures per rule and point (mean ± sd over seeds): the mean single-draw cosine with the gradient
``g``; the relative variance ``RV = tr Cov(u) / ‖g‖²``; the SNR ``‖ū‖² / tr Cov(u)`` of
``estimator_statistics`` (``ū`` the mean of the ``K`` draws, so it carries a ``1/K`` floor:
``snr_debiased = snr - 1/K`` estimates ``‖E u‖² / tr Cov u``, which is ``1/RV`` for an unbiased
rule); the bias angle between ``ū`` and ``g``, printed beside ``atan sqrt(RV/K)``, the angle
sampling error alone gives an unbiased rule (a bias angle well above it is a real bias).

Predicted (derived here, first order in σ; checked against the measurement in the output):

- ``wp``, ``fg``: one draw is ``u = (g·z) z``, ``z ~ N(0, I_n)`` over the ``n`` parameters, so
  ``E u = g``, ``tr Cov u = (n + 1) ‖g‖²`` (RV = n + 1: slope 1 in ``n_params``) and
  ``cos(u, g) = |g·z| / (‖g‖ ‖z‖)``, the |cosine| of a uniform direction, with mean
  ``Γ(n/2) / (√π Γ((n+1)/2)) ≈ sqrt(2 / (π n))`` (Baydin et al. 2022; Ren et al. 2022).
- ``np``, ``fga``: example ``k``'s pre-activation error ``δ_k`` (all layers, ``U`` units) is
  estimated by ``ε_k = (δ_k·z_k) z_k`` with ``Cov ε_k = ‖δ_k‖² I + δ_k δ_kᵀ``; the weight update
  ``u = (1/B) Σ_k A_k ε_k`` (``A_k`` the outer product with the layer inputs ``[h; 1]``) then has
  ``tr Cov u = (1/B²) Σ_k (‖δ_k‖² Σ_l m_l (‖h_{k,l-1}‖² + 1) + ‖g_k‖²)`` with ``g_k`` example
  ``k``'s gradient. If the layers' inputs have similar norms this is ``≈ (U + 1) · κ`` in units
  of ``‖g‖²``, with ``κ = mean_k ‖g_k‖² / (B ‖g‖²)`` between ``1/B`` (identical per-example
  gradients) and ``1`` (orthogonal ones): the noise scales with the number of perturbed units,
  not of weights (Werfel et al. 2005; Richards & Lillicrap 2018). ``u·g`` sums ``B`` independent
  terms, so it concentrates and ``cos ≈ 1 / sqrt(1 + RV)`` (whereas the rank-one ``wp``/``fg``
  draw has ``cos ≈ sqrt(2/π) / sqrt(1 + RV)``).
- ``reinforce`` without baseline: ``ε_k = (E_k/σ + δ_k·z_k) z_k``, i.e. ``‖δ_k‖²`` above becomes
  ``‖δ_k‖² + E_k² / σ²`` (the loss level itself is correlated with the noise);
  ``reinforce_bl``: as ``np`` (to first order in σ, ignoring the noisy presynaptic activity).
- ``agrel`` (signed): output error ``(∂E_k/∂z_s / p_s) e_s`` with ``s ~ softmax(z)``, so
  ``tr Cov u = (1/B²) Σ_k (Σ_s (∂E_k/∂z_s)² / p_s ‖∇_θ z_{k,s}‖² - ‖g_k‖²)``: its noise lives
  in the 10 outputs and does not grow with the width or depth by itself.

Every point is written to the JSON as soon as it is measured (``--resume`` skips the points a
previous run with the same settings finished).

    python benchmarks/estimator_variance.py [--quick] [--draws 256] [--seeds 4] [--out PATH]

The defaults take 7-10 minutes on a shared 2-core CPU (a large part of it compiling: one
program per rule and architecture); ``--quick`` about a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, environment, write_json  # noqa: E402

import credax  # noqa: E402

N_IN, N_OUT = 40, 10
LOSS = credax.losses.softmax_cross_entropy
RF_SIGMA = 0.1
RULE_NAMES = ["bp", "wp", "np", "reinforce", "reinforce_bl", "agrel", "fg", "fga", "fa"]
PHASES = ["init", "trained"]


def per_example_losses(loss, outputs, y):
    """``E_k = loss(outputs[k:k+1], y[k:k+1])`` for every example, shape ``(B,)``."""
    return jax.vmap(lambda o, t: loss(o[None], t[None]))(outputs, y)


def zeros_offsets(params, batch):
    """One zero pre-activation offset ``(B, *out_shape)`` per credax layer (for
    ``credax.nets.trace``: differentiating the output with respect to them gives ``∂z/∂a_l``)."""
    return [
        jnp.zeros((batch, *layer.out_shape), layer.weight.dtype)
        for layer in credax.nets.find_layers(params)
    ]


def noise_free_reward(params, batch):
    """Per-example reward ``-E_k`` of the noise-free network: REINFORCE's baseline."""
    x, y = batch
    return -per_example_losses(LOSS, jax.vmap(params)(x), y)


def make_rules() -> dict:
    return {
        "bp": credax.backprop(LOSS),
        "wp": credax.weight_perturbation(LOSS),
        "np": credax.node_perturbation(LOSS),
        "reinforce": credax.reinforce(LOSS, sigma=RF_SIGMA, baseline_decay=None),
        "reinforce_bl": credax.reinforce(LOSS, sigma=RF_SIGMA, baseline=noise_free_reward),
        "agrel": credax.agrel(LOSS, signed=True),
        "fg": credax.forward_gradient(LOSS),
        "fga": credax.forward_gradient(LOSS, activity=True),
        "fa": credax.feedback_alignment(LOSS),
    }


def _flat(tree):
    return jnp.concatenate([jnp.ravel(a) for a in jax.tree.leaves(tree)])


def statistics_fn(rule, n_draws):
    """Jitted ``(params, x, y, key) -> figures`` of one rule (one compile per architecture)."""

    def f(params, x, y, key):
        s = credax.metrics.estimator_statistics(
            rule, params, (x, y), key=key, n_draws=n_draws, loss=LOSS
        )
        g = jax.grad(lambda p: LOSS(jax.vmap(p)(x), y))(params)
        g2 = jnp.sum(_flat(g) ** 2)
        return {
            "cos_mean": jnp.mean(s.cosines),
            "cos_draw_sd": jnp.std(s.cosines),
            "rel_var": s.total_variance / g2,
            "snr": s.snr,
            # E‖ū‖² = ‖E u‖² + tr Cov / K: the debiased SNR estimates ‖E u‖² / tr Cov
            "snr_debiased": s.snr - 1.0 / n_draws,
            "bias_angle": s.bias_angle,
            # the angle an unbiased K-draw mean makes with g from sampling error alone
            "sampling_angle": jnp.degrees(jnp.arctan(jnp.sqrt(s.total_variance / (n_draws * g2)))),
            "relative_error": s.relative_error,
        }

    return jax.jit(f)


def predict(params, x, y):
    """First-order predictions of the relative variance (see the module docstring)."""
    layers = params.layers
    b = x.shape[0]
    zeros = zeros_offsets(params, b)
    z, vjp = jax.vjp(lambda off: credax.nets.trace(params, x, offsets=off).output, zeros)
    gz = b * jax.grad(lambda o: LOSS(o, y))(z)  # ∂E_k/∂z, (B, n_out)
    p = jax.nn.softmax(z, axis=-1)
    e = per_example_losses(LOSS, z, y)
    n_out = z.shape[-1]
    # φ[s][l]: ∂z_s/∂a_l per example, (n_out, B, m_l)
    phi = jax.vmap(lambda s: vjp(jnp.broadcast_to(jax.nn.one_hot(s, n_out), z.shape))[0])(
        jnp.arange(n_out)
    )
    deltas = [jnp.einsum("bs,sbm->bm", gz, f) for f in phi]  # ∂E_k/∂a_l
    h, hh = x, []
    for layer in layers:
        hh.append(jnp.sum(h**2, -1) + 1.0)  # ‖[h_{l-1}; 1]‖²
        h = jax.vmap(layer)(h)
    d2 = sum(jnp.sum(d**2, -1) for d in deltas)  # ‖δ_k‖², all layers
    gk2 = sum(jnp.sum(d**2, -1) * q for d, q in zip(deltas, hh))  # ‖g_k‖²
    tr = sum(layer.weight.shape[0] * q for layer, q in zip(layers, hh))  # tr A_k A_kᵀ
    jz2 = sum(jnp.sum(f**2, -1) * q for f, q in zip(phi, hh))  # ‖∇θ z_{k,s}‖², (n_out, B)
    g = jax.grad(lambda q: LOSS(jax.vmap(q)(x), y))(params)
    g2 = jnp.sum(_flat(g) ** 2)
    norm = b**2 * g2
    n_units = sum(layer.weight.shape[0] for layer in layers)
    return {
        "rv_np": jnp.sum(d2 * tr + gk2) / norm,
        "rv_reinforce": jnp.sum((d2 + e**2 / RF_SIGMA**2) * tr + gk2) / norm,
        "rv_agrel": jnp.sum(jnp.sum(gz**2 / p * jz2.T, -1) - gk2) / norm,
        "kappa": jnp.mean(gk2) / (b * g2),
        "kappa_units": (n_units + 1) * jnp.mean(gk2) / (b * g2),
        "grad_norm": jnp.sqrt(g2),
        "batch_loss": jnp.mean(e),
    }


def wp_cosine(n: int) -> float:
    """``E|cos|`` of a uniform direction in ``R^n`` with a fixed vector."""
    return math.exp(math.lgamma(n / 2) - math.lgamma((n + 1) / 2)) / math.sqrt(math.pi)


def train_backprop(nets, x, y, steps, key, lr, batch):
    """``steps`` Adam steps of backprop on minibatches of ``(x, y)``, vmapped over the seeds'
    stacked ``nets``."""
    opt = optax.adam(lr)

    def one(net, k):
        def step(carry, kk):
            net, st = carry
            i = jax.random.choice(kk, x.shape[0], (batch,), replace=False)
            g = jax.grad(lambda p: LOSS(jax.vmap(p)(x[i]), y[i]))(net)
            u, st = opt.update(g, st, net)
            return (optax.apply_updates(net, u), st), None

        return jax.lax.scan(step, (net, opt.init(net)), jax.random.split(k, steps))[0][0]

    keys = jax.random.split(key, jax.tree.leaves(nets)[0].shape[0])
    return jax.jit(jax.vmap(one))(nets, keys)


def fit(xs, ys):
    """Least-squares slope of log ys on log xs."""
    xs, ys = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    ok = np.isfinite(ys)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(xs[ok], ys[ok], 1)[0])


def fit2(p, u, ys):
    """Least squares ``log y = a + α log n_params + β log n_units``: returns (α, β)."""
    a = np.stack([np.ones(len(p)), np.log(p), np.log(u)], 1)
    ys = np.log(np.asarray(ys, float))
    ok = np.isfinite(ys)
    if ok.sum() < 3:
        return float("nan"), float("nan")
    coef = np.linalg.lstsq(a[ok], ys[ok], rcond=None)[0]
    return float(coef[1]), float(coef[2])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a small smoke run (about a minute)")
    p.add_argument("--draws", type=int, default=None, help="K draws per statistic (256)")
    p.add_argument("--seeds", type=int, default=None, help="init seeds per point (4)")
    p.add_argument("--widths", default=None, help="comma list at depth 2 (16,...,512)")
    p.add_argument("--depths", default=None, help="comma list of hidden layers (1,...,5)")
    p.add_argument("--depth-width", type=int, default=64)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--train-steps", type=int, default=None, help="backprop steps (300; 0: skip)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--rules", default=",".join(RULE_NAMES))
    p.add_argument("--resume", action="store_true", help="keep finished points of --out")
    p.add_argument("--out", default=str(RESULTS / "estimator_variance"))
    cli = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(cli)
    quick = args.quick
    draws = args.draws or (64 if quick else 256)
    seeds = args.seeds or (2 if quick else 4)
    widths = args.widths or ("16,64" if quick else "16,32,64,128,256,512")
    widths = [int(v) for v in widths.split(",")]
    depths = [int(v) for v in (args.depths or ("1,2" if quick else "1,2,3,4,5")).split(",")]
    steps = args.train_steps if args.train_steps is not None else (50 if quick else 300)
    names = args.rules.split(",")
    if draws < 2 or seeds < 1 or min(widths + depths) < 1 or steps < 0:
        p.error("--draws >= 2, --seeds >= 1, widths/depths >= 1, --train-steps >= 0")
    unknown = set(names) - set(RULE_NAMES)
    if unknown:
        p.error(f"unknown rules {sorted(unknown)}; choose from {RULE_NAMES}")
    phases = PHASES if steps > 0 else PHASES[:1]
    archs = [(w, 2) for w in widths] + [(args.depth_width, d) for d in depths]
    archs = list(dict.fromkeys(archs))  # the shared point (depth_width, 2) once

    x_all, y_all = map(jnp.asarray, credax.data.load("mnist1d", "train"))
    x, y = x_all[: args.batch], y_all[: args.batch]
    rules = make_rules()
    out = Path(args.out)
    config = {
        "draws": draws,
        "seeds": seeds,
        "widths": widths,
        "depths": depths,
        "depth_width": args.depth_width,
        "batch": args.batch,
        "train_steps": steps,
        "lr": args.lr,
        "rules": names,
        "quick": quick,
    }
    points = {}
    if args.resume and out.with_suffix(".json").exists():
        old = json.loads(out.with_suffix(".json").read_text())
        if old.get("config") == config:
            points = {k: v for k, v in old.get("points", {}).items()}
            print(f"resuming: {len(points)} finished points")

    def payload(slopes=None):
        return {
            "benchmark": "estimator_variance",
            "command": " ".join(["python benchmarks/estimator_variance.py", *cli]),
            "config": config,
            "setup": {
                "network": "tanh MLP 40 -> hidden -> 10, Glorot-uniform weights, zero biases",
                "data": f"MNIST-1D train, first {args.batch} examples (fixed batch)",
                "loss": "softmax cross-entropy (batch mean)",
                "phases": {
                    "init": "at initialisation",
                    "trained": f"after {steps} Adam({args.lr}) steps of backprop, batch 100",
                },
                "rules": {
                    "bp": "credax.backprop",
                    "wp": "credax.weight_perturbation(sigma=1e-3)",
                    "np": "credax.node_perturbation(sigma=1e-3)",
                    "reinforce": f"credax.reinforce(sigma={RF_SIGMA}, baseline_decay=None)",
                    "reinforce_bl": f"credax.reinforce(sigma={RF_SIGMA}, baseline=noise-free "
                    "per-example reward)",
                    "agrel": "credax.agrel(signed=True)",
                    "fg": "credax.forward_gradient()",
                    "fga": "credax.forward_gradient(activity=True)",
                    "fa": "credax.feedback_alignment() (draws = feedback matrices)",
                },
                "n_units": "hidden + output units per example (the perturbed pre-activations)",
                "rel_var": "total variance of one draw / ‖g‖²",
            },
            "predicted": {
                "wp_fg_cos": "E|cos| = Γ(n/2)/(√π Γ((n+1)/2)) ≈ sqrt(2/(π n)), n = n_params "
                "(Baydin et al. 2022; Ren et al. 2022)",
                "wp_fg_rel_var": "n_params + 1 (slope 1 in n_params)",
                "np_fga_rel_var": "(1/B²) Σ_k (‖δ_k‖² Σ_l m_l (‖h_{k,l-1}‖²+1) + ‖g_k‖²) / ‖g‖² "
                "≈ κ (n_units + 1), κ = mean‖g_k‖²/(B‖g‖²): scales with units, not weights "
                "(Werfel et al. 2005; Richards & Lillicrap 2018)",
                "np_fga_cos": "1/sqrt(1 + RV_np)",
                "reinforce_rel_var": "as np with ‖δ_k‖² -> ‖δ_k‖² + E_k²/σ²",
                "reinforce_bl_rel_var": "as np",
                "agrel_rel_var": "(1/B²) Σ_k (Σ_s (∂E_k/∂z_s)²/p_s ‖∇θ z_{k,s}‖² - ‖g_k‖²) / ‖g‖²",
            },
            "environment": environment(),
            "points": points,
            "slopes": slopes,
        }

    t_start = time.perf_counter()
    print(
        f"estimator statistics: K={draws} draws, {seeds} seeds, batch {args.batch}, "
        f"phases {phases} ({jax.default_backend()})"
    )
    for width, depth in archs:
        sizes = [N_IN] + [width] * depth + [N_OUT]
        key_name = f"w{width}_d{depth}"
        if key_name in points and all(ph in points[key_name]["phases"] for ph in phases):
            continue
        t0 = time.perf_counter()
        nets = [
            credax.nets.mlp(sizes, activation=jnp.tanh, key=jax.random.key(s)) for s in range(seeds)
        ]
        stacked = jax.tree.map(lambda *a: jnp.stack(a), *nets)
        n_params = int(sum(a.size for a in jax.tree.leaves(nets[0])))
        n_units = depth * width + N_OUT
        entry = {"width": width, "depth": depth, "n_params": n_params, "n_units": n_units}
        entry["phases"] = {}
        per_phase = {"init": stacked}
        if "trained" in phases:
            per_phase["trained"] = train_backprop(
                stacked, x_all, y_all, steps, jax.random.key(777), args.lr, 100
            )
        fns = {name: statistics_fn(rules[name], draws) for name in names}
        pred_fn = jax.jit(predict)
        for phase in phases:
            params = per_phase[phase]
            res = {}
            for i, name in enumerate(names):
                t1 = time.perf_counter()
                per_seed = []
                for s in range(seeds):
                    net = jax.tree.map(lambda a, s=s: a[s], params)
                    k = jax.random.fold_in(jax.random.key(10_000 + s), i)
                    per_seed.append(jax.device_get(fns[name](net, x, y, k)))
                rec = {f: [float(d[f]) for d in per_seed] for f in per_seed[0]}
                rec["seconds"] = time.perf_counter() - t1
                res[name] = rec
            preds = [
                jax.device_get(pred_fn(jax.tree.map(lambda a, s=s: a[s], params), x, y))
                for s in range(seeds)
            ]
            pr = {f: [float(d[f]) for d in preds] for f in preds[0]}
            pr["wp_cos"] = wp_cosine(n_params)
            pr["wp_cos_asymptotic"] = math.sqrt(2 / (math.pi * n_params))
            pr["rv_wp"] = n_params + 1
            pr["np_cos"] = [1 / math.sqrt(1 + v) for v in pr["rv_np"]]
            entry["phases"][phase] = {"rules": res, "predicted": pr}
        entry["seconds"] = time.perf_counter() - t0
        points[key_name] = entry
        write_json(out.with_suffix(".json"), payload())
        show = " ".join(
            f"{n}={np.mean(entry['phases']['init']['rules'][n]['cos_mean']):.3g}" for n in names
        )
        losses = " -> ".join(
            f"{np.mean(entry['phases'][ph]['predicted']['batch_loss']):.3f}" for ph in phases
        )
        print(f"  {sizes} n={n_params}: {entry['seconds']:.1f} s; loss {losses}; init cos {show}")

    slopes = summarise(points, archs, names, phases, widths, depths, args.depth_width)
    write_json(out.with_suffix(".json"), payload(slopes))
    plot(out, points, names, phases, widths, depths, args.depth_width)
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {out}.json and {out}.png")


def _gm(v):
    return float(np.exp(np.mean(np.log(np.asarray(v, float)))))


def summarise(points, archs, names, phases, widths, depths, depth_width):
    """Prints the tables and returns the fitted slopes."""
    wkeys = [f"w{w}_d2" for w in widths]
    dkeys = [f"w{depth_width}_d{d}" for d in depths]
    allkeys = list(dict.fromkeys(wkeys + dkeys))
    slopes = {}
    for phase in phases:
        print(f"\n== {phase}: mean single-draw cosine with g (± sd over seeds) | relative variance")
        for title, keys, col in [("width (depth 2)", wkeys, "width"), ("depth", dkeys, "depth")]:
            print(f"-- {title}: " + "  ".join(f"{points[k][col]}" for k in keys))
            print("   n_params: " + "  ".join(str(points[k]["n_params"]) for k in keys))
            for name in names:
                cells = []
                for k in keys:
                    r = points[k]["phases"][phase]["rules"][name]
                    m, s = np.mean(r["cos_mean"]), np.std(r["cos_mean"])
                    cells.append(f"{m:.4f}±{s:.4f}|{_gm(np.maximum(r['rel_var'], 1e-30)):.3g}")
                print(f"   {name:12s} " + "  ".join(cells))
            pw = [points[k]["phases"][phase]["predicted"] for k in keys]
            print(
                "   pred wp/fg  "
                + "  ".join(f"{q['wp_cos']:.4f}       |{q['rv_wp']:.3g}" for q in pw)
            )
            print(
                "   pred np/fga "
                + "  ".join(f"{np.mean(q['np_cos']):.4f}       |{_gm(q['rv_np']):.3g}" for q in pw)
            )
            print(
                "   pred rf     "
                + "  ".join(f"{'':6s}       |{_gm(q['rv_reinforce']):.3g}" for q in pw)
            )
            print(
                "   pred agrel  "
                + "  ".join(f"{'':6s}       |{_gm(q['rv_agrel']):.3g}" for q in pw)
            )
            print("   κ(U+1)      " + "  ".join(f"{_gm(q['kappa_units']):.3g}" for q in pw))
        sl = {}
        npar = {k: points[k]["n_params"] for k in allkeys}
        nun = {k: points[k]["n_units"] for k in allkeys}

        def rv(k, name, ph=phase):
            return _gm(np.maximum(points[k]["phases"][ph]["rules"][name]["rel_var"], 1e-30))

        def cosm(k, name, ph=phase):
            return float(np.mean(points[k]["phases"][ph]["rules"][name]["cos_mean"]))

        for name in names:
            if name == "bp":
                continue
            a, b = fit2(
                [npar[k] for k in allkeys],
                [nun[k] for k in allkeys],
                [rv(k, name) for k in allkeys],
            )
            sl[name] = {
                "rv_vs_params_width": fit([npar[k] for k in wkeys], [rv(k, name) for k in wkeys]),
                "rv_vs_units_width": fit([nun[k] for k in wkeys], [rv(k, name) for k in wkeys]),
                "rv_vs_params_depth": fit([npar[k] for k in dkeys], [rv(k, name) for k in dkeys]),
                "rv_vs_units_depth": fit([nun[k] for k in dkeys], [rv(k, name) for k in dkeys]),
                "rv_joint_params_units": [a, b],
                "cos_vs_params_width": fit(
                    [npar[k] for k in wkeys], [cosm(k, name) for k in wkeys]
                ),
                "cos_vs_units_width": fit([nun[k] for k in wkeys], [cosm(k, name) for k in wkeys]),
            }
        pred = {}
        for label, field in [
            ("wp_fg", "rv_wp"),
            ("np_fga", "rv_np"),
            ("reinforce", "rv_reinforce"),
            ("agrel", "rv_agrel"),
            ("kappa_units", "kappa_units"),
        ]:

            def pv(k, field=field, phase=phase):
                return _gm(np.atleast_1d(points[k]["phases"][phase]["predicted"][field]))

            a, b = fit2(
                [npar[k] for k in allkeys], [nun[k] for k in allkeys], [pv(k) for k in allkeys]
            )
            pred[label] = {
                "rv_vs_params_width": fit([npar[k] for k in wkeys], [pv(k) for k in wkeys]),
                "rv_vs_units_width": fit([nun[k] for k in wkeys], [pv(k) for k in wkeys]),
                "rv_vs_params_depth": fit([npar[k] for k in dkeys], [pv(k) for k in dkeys]),
                "rv_vs_units_depth": fit([nun[k] for k in dkeys], [pv(k) for k in dkeys]),
                "rv_joint_params_units": [a, b],
            }
        pred["wp_fg"]["cos_vs_params_width"] = fit(
            [npar[k] for k in wkeys], [wp_cosine(npar[k]) for k in wkeys]
        )
        slopes[phase] = {"measured": sl, "predicted": pred}
        print(f"\n== {phase}: bias angle of the K-draw mean / sampling-only angle (degrees)")
        for title, keys in [("width", wkeys), ("depth", dkeys)]:
            print(f"-- {title}: " + "  ".join(str(points[k][title]) for k in keys))
            for name in names:
                if name == "bp":
                    continue
                cells = []
                for k in keys:
                    r = points[k]["phases"][phase]["rules"][name]
                    cells.append(
                        f"{np.mean(r['bias_angle']):4.1f}/{np.mean(r['sampling_angle']):4.1f}"
                    )
                print(f"   {name:12s} " + "  ".join(cells))
        print(f"\n== {phase}: log-log slopes of relative variance (cosine) — measured vs predicted")
        print(
            f"   {'rule':12s} {'RV~P width':>10s} {'RV~U width':>10s} {'RV~P depth':>10s} "
            f"{'RV~U depth':>10s} {'joint (α_P, β_U)':>18s} {'cos~P width':>11s}"
        )
        rows = [(n, sl[n]) for n in sl] + [(f"pred {n}", pred[n]) for n in pred]
        for n, s in rows:
            a, b = s["rv_joint_params_units"]
            c = s.get("cos_vs_params_width", float("nan"))
            print(
                f"   {n:12s} {s['rv_vs_params_width']:10.2f} {s['rv_vs_units_width']:10.2f} "
                f"{s['rv_vs_params_depth']:10.2f} {s['rv_vs_units_depth']:10.2f} "
                f"{f'({a:.2f}, {b:.2f})':>18s} {c:11.2f}"
            )
        print(
            "   published/predicted: wp, fg RV = n_params + 1 (slope 1 in P, β_U = 0), cosine ≈ "
            "sqrt(2/(πP)) (slope -1/2); np, fga RV ≈ κ(U+1): slope in units, not weights"
        )
    return slopes


COLORS = {
    "bp": "k",
    "wp": "C0",
    "fg": "C1",
    "np": "C2",
    "fga": "C3",
    "reinforce": "C4",
    "reinforce_bl": "C5",
    "agrel": "C6",
    "fa": "C7",
}


def plot(out, points, names, phases, widths, depths, depth_width):
    wkeys = [f"w{w}_d2" for w in widths]
    dkeys = [f"w{depth_width}_d{d}" for d in depths]
    allkeys = list(dict.fromkeys(wkeys + dkeys))
    shown = [n for n in names if n != "bp"]
    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    for j, (keys, col) in enumerate([(wkeys, "width"), (dkeys, "depth")]):
        xs = [points[k][col] for k in keys]
        for phase, ls in zip(phases, ["-", ":"]):
            for name in shown:
                c = np.array([points[k]["phases"][phase]["rules"][name]["cos_mean"] for k in keys])
                ax[0, j].errorbar(
                    xs, c.mean(1), yerr=c.std(1), ls=ls, marker="o", ms=3, color=COLORS[name]
                )
        pw = [points[k]["phases"]["init"]["predicted"] for k in keys]
        ax[0, j].plot(
            xs,
            [q["wp_cos_asymptotic"] for q in pw],
            "k--",
            lw=1.5,
            zorder=5,
            label="wp, fg predicted: sqrt(2/(π n_params))",
        )
        ax[0, j].plot(
            xs,
            [np.mean(q["np_cos"]) for q in pw],
            "k-.",
            lw=1.2,
            zorder=5,
            label="np, fga predicted: 1/sqrt(1 + RV_np) (init)",
        )
        ax[0, j].set(
            xscale="log",
            yscale="log",
            xlabel=f"hidden {col}"
            + (" (depth 2)" if col == "width" else f" (width {depth_width})"),
            ylabel="mean single-draw cosine with g",
            title=f"cosine vs {col} (solid: init, dotted: trained)",
        )
        ax[0, j].set_xticks(xs)
        ax[0, j].set_xticklabels([str(v) for v in xs])
        ax[0, j].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax[0, j].legend(fontsize=7, loc="lower left")
    for j, (col, lab) in enumerate(
        [("n_params", "number of parameters P"), ("n_units", "number of units U (per example)")]
    ):
        for name in shown:
            for phase, mk in zip(phases, ["o", "x"]):
                xs = [points[k][col] for k in allkeys]
                ys = [
                    _gm(np.maximum(points[k]["phases"][phase]["rules"][name]["rel_var"], 1e-30))
                    for k in allkeys
                ]
                ax[1, j].scatter(xs, ys, marker=mk, color=COLORS[name], s=18)
        xs = np.array(sorted(points[k][col] for k in allkeys), float)
        if col == "n_params":
            ax[1, j].plot(xs, xs + 1, "k--", lw=1, label="P + 1 (wp, fg predicted)")
        else:
            ax[1, j].plot(xs, xs + 1, "k:", lw=1, label="U + 1 (np, fga if κ = 1)")
        ax[1, j].set(
            xscale="log",
            yscale="log",
            xlabel=lab,
            ylabel="relative variance tr Cov / ‖g‖²",
            title=f"relative variance vs {col} (o init, x trained)",
        )
        ax[1, j].legend(fontsize=7, loc="lower right")
    handles = [plt.Line2D([], [], color=COLORS[n], marker="o", ms=4, label=n) for n in shown]
    fig.legend(handles=handles, loc="center right", fontsize=9, title="rule")
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
