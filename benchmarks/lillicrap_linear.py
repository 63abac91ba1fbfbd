"""Lillicrap et al. (2016), Fig. 2a-b: a linear 30-20-10 network learns a random linear teacher.

Backprop, feedback alignment and a shallow baseline (only the output weights learn) are trained
online by SGD on fresh Gaussian inputs, every seed in one vmapped ``lax.scan``. Recorded every
``--every`` steps: the normalised test error ``‖y - ŷ‖² / ‖y‖²``; the angle between the hidden-layer
signal feedback alignment delivers, ``Δh_FA ∝ B e``, and backprop's ``Δh_BP ∝ Wᵀ e`` (on a fixed
probe batch, flattened); the angle between FA's hidden-layer weight update and backprop's; and the
fraction of examples meeting ``eᵀ W B e > 0``.

Published: the angle between Δh_FA and Δh_BP starts near 90° and quickly falls well below 90°
(Lillicrap et al. 2016, Fig. 2b); FA and BP reach low error, the shallow learner does not (Fig. 2a).

    python benchmarks/lillicrap_linear.py [--seeds 16] [--steps 4000] [--lr 0.01]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, band, environment, mean_sd, write_json  # noqa: E402

import credax  # noqa: E402

N_IN, N_HID, N_OUT = 30, 20, 10


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument(
        "--init-scale",
        type=float,
        default=0.1,
        help="factor on the Glorot-initialised forward weights (small, as in the paper)",
    )
    p.add_argument("--out", default=str(RESULTS / "lillicrap_linear"))
    args = p.parse_args(argv)
    if min(args.seeds, args.steps, args.every, args.batch) < 1 or args.steps % args.every:
        p.error("--seeds, --steps, --every, --batch must be >= 1 and --every must divide --steps")

    loss = credax.losses.mse
    rules = {
        "bp": credax.backprop(loss),
        "fa": credax.feedback_alignment(loss),
        "shallow": credax.backprop(loss),  # hidden layer frozen by the optimizer below
    }
    sgd = optax.sgd(args.lr)

    def mask_hidden(updates):
        return credax.nets.map_layers(
            lambda i, l: jax.tree_util.tree_map(jnp.zeros_like, l) if i == 0 else l, updates
        )

    def run(name, key):
        k_teacher, k_net, k_rule, k_data, k_test = jax.random.split(key, 5)
        _, sample = credax.data.linear_teacher(k_teacher, N_IN, N_OUT)
        net = credax.nets.mlp([N_IN, N_HID, N_OUT], activation=credax.nets.identity, key=k_net)
        net = jax.tree_util.tree_map(lambda w: args.init_scale * w, net)
        rule = rules[name]
        state = rule.init(k_rule, net)
        fa_state = rules["fa"].init(k_rule, net)
        x_test, y_test = sample(k_test, 1000)
        probe = sample(jax.random.fold_in(k_test, 1), 256)

        def measure(net, state):
            out = jax.vmap(net)(x_test)
            err = jnp.sum((y_test - out) ** 2) / jnp.sum(y_test**2)
            fb = state.feedback if name == "fa" else fa_state.feedback
            dh_fa = credax.metrics.layer_errors(net, fb, probe, loss)[0]
            dh_bp = credax.metrics.layer_errors(net, None, probe, loss)[0]
            g_fa, _ = rules["fa"].update(net, fa_state._replace(feedback=fb), probe)
            g_bp, _ = rules["bp"].update(net, (), probe)
            return {
                "error": err,
                "dh_angle": credax.metrics.angle(dh_fa, dh_bp),
                "dw1_angle": credax.metrics.update_angles(g_fa, g_bp)[0],
                "condition": credax.metrics.lillicrap_condition(net, fb, probe, loss)[1],
            }

        def step(carry, k):
            net, state, opt_state = carry
            g, state = rule.update(net, state, sample(k, args.batch))
            if name == "shallow":
                g = mask_hidden(g)
            u, opt_state = sgd.update(g, opt_state, net)
            return (optax.apply_updates(net, u), state, opt_state), None

        def block(carry, k):
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k, args.every))
            return carry, measure(carry[0], carry[1])

        first = measure(net, state)
        _, rec = jax.lax.scan(
            block,
            (net, state, sgd.init(net)),
            jax.random.split(k_data, args.steps // args.every),
        )
        return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)

    keys = jax.random.split(jax.random.key(0), args.seeds)
    curves = {}
    for name in rules:
        curves[name] = jax.device_get(jax.jit(jax.vmap(lambda k, n=name: run(n, k)))(keys))

    steps = np.arange(0, args.steps + 1, args.every)
    fa = curves["fa"]
    start, final = fa["dh_angle"][:, 0], fa["dh_angle"][:, -1]
    summary = {
        name: {
            "final_error_mean": mean_sd(c["error"][:, -1])[0],
            "final_error_sd": mean_sd(c["error"][:, -1])[1],
        }
        for name, c in curves.items()
    }
    summary["fa"].update(
        {
            "dh_angle_start_mean": mean_sd(start)[0],
            "dh_angle_start_sd": mean_sd(start)[1],
            "dh_angle_final_mean": mean_sd(final)[0],
            "dh_angle_final_sd": mean_sd(final)[1],
            "dw1_angle_final_mean": mean_sd(fa["dw1_angle"][:, -1])[0],
            "dw1_angle_final_sd": mean_sd(fa["dw1_angle"][:, -1])[1],
            "condition_final_mean": mean_sd(fa["condition"][:, -1])[0],
        }
    )
    print(
        f"Linear 30-20-10 teacher task, SGD {args.lr}, batch {args.batch}, {args.steps} steps, "
        f"{args.seeds} seeds ({jax.default_backend()})"
    )
    for name in curves:
        s = summary[name]
        print(
            f"  {name:8s} final normalised error {s['final_error_mean']:.4f} ± "
            f"{s['final_error_sd']:.4f}"
        )
    s = summary["fa"]
    print(
        f"  FA Δh angle to BP: start {s['dh_angle_start_mean']:.1f}° ± {s['dh_angle_start_sd']:.1f}"
        f" -> final {s['dh_angle_final_mean']:.1f}° ± {s['dh_angle_final_sd']:.1f}; ΔW1 angle "
        f"{s['dw1_angle_final_mean']:.1f}° ± {s['dw1_angle_final_sd']:.1f}; eᵀWBe>0 for "
        f"{100 * s['condition_final_mean']:.0f}% of examples"
    )
    print("  published (Lillicrap et al. 2016, Fig. 2b): starts near 90°, falls well below 90°")

    out = Path(args.out)
    write_json(
        out.with_suffix(".json"),
        {
            "benchmark": "lillicrap_linear",
            "command": "python benchmarks/lillicrap_linear.py " + " ".join(argv or []),
            "setup": vars(args)
            | {"network": "linear 30-20-10", "teacher": "uniform[-1,1]/sqrt(30)"},
            "published": "Δh_FA vs Δh_BP angle starts near 90° and falls well below it; FA and BP "
            "reach low error, shallow learning does not (Lillicrap et al. 2016, Fig. 2)",
            "environment": environment(),
            "summary": summary,
            "steps": steps,
            "curves": curves,
        },
    )
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, label in [("bp", "BP"), ("fa", "FA"), ("shallow", "shallow")]:
        band(ax[0], steps, np.log10(curves[name]["error"]), label)
    ax[0].set(xlabel="step", ylabel="log10 normalised squared error", title="Fig. 2a")
    band(ax[1], steps, fa["dh_angle"], "Δh_FA vs Δh_BP")
    band(ax[1], steps, fa["dw1_angle"], "ΔW1_FA vs ΔW1_BP")
    ax[1].axhline(90, ls="--", c="k", lw=0.8)
    ax[1].set(xlabel="step", ylabel="degrees", title="Fig. 2b: FA angle to backprop")
    for a in ax:
        a.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"wrote {out}.json and {out}.png")


if __name__ == "__main__":
    main()
