"""The plots of ``credax run``: one style per rule, from the registry's families."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from credax._src.cli._report import mean_sd

# One palette and marker order per family (by family index), so that no two rules share a
# colour, a marker and a line style (each family has its own line style). Within a palette,
# rules i and i + 4 (often estimators of the same thing: WP and FG, NP and FG-A) get
# contrasting hues, and every rule its own marker phase, so that curves that coincide stay
# visible.
PALETTES = [
    ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"],
    ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#a6761d", "#1f78b4", "#666666", "#e6ab02"],
    ["#bcbd22", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"],
]  # fmt: skip
MARKERS = ["o", "s", "^", "v", "D", "P", "X", "*", "<", ">"]


def rule_styles(names: list[str]) -> dict[str, dict]:
    """One distinct style per rule: its family's line style, a colour and marker per rule within
    its family; baselines (backprop) in black."""
    from credax._src.registry import FAMILIES, RULES

    families = list(FAMILIES)
    styles, count = {}, {}
    for name in names:
        e = RULES[name]
        fam = FAMILIES[e.family]
        if e.baseline:
            styles[name] = {
                "color": "black",
                "linestyle": fam.linestyle,
                "marker": None,
                "linewidth": 2.2,
            }
            continue
        i = count.get(e.family, 0)
        count[e.family] = i + 1
        f = families.index(e.family)
        palette = PALETTES[f % len(PALETTES)]
        styles[name] = {
            "color": palette[i % len(palette)],
            "linestyle": fam.linestyle,
            "marker": MARKERS[(i + 3 * f) % len(MARKERS)],
            # Earlier rules of a family are drawn wider, so that one whose curve coincides with
            # a later one's (two estimators of the same gradient) shows around it.
            "linewidth": max(2.6 - 0.35 * i, 1.0),
            "markersize": max(6.5 - 0.6 * i, 3.0),
        }
    return styles


def _legend(fig, names, styles) -> None:
    """One legend right of the axes, grouped by family with a header per family."""
    from matplotlib.lines import Line2D

    from credax._src.registry import FAMILIES, RULES

    handles, labels = [], []
    for fam in FAMILIES:
        members = [n for n in names if RULES[n].family == fam]
        if not members:
            continue
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(f"$\\bf{{{fam}}}$")
        for n in members:
            handles.append(Line2D([], [], **{**styles[n], "markersize": 5}))
            labels.append(RULES[n].label)
    fig.legend(
        handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False
    )


def _series(ax, steps, y, style, mark_every, phase=0):
    m, s = mean_sd(y)
    if m is None or not np.isfinite(m).any():
        return
    ax.plot(steps, m, markevery=(phase % mark_every, mark_every), **{"markersize": 4, **style})
    ax.fill_between(steps, m - s, m + s, alpha=0.12, color=style["color"], linewidth=0)


def plot(results: dict, steps, regression: bool, out: Path) -> list[str]:
    """``curves.png`` (test metric, training loss), ``angles.png`` (angle to backprop per layer)
    and one plot per other per-layer record; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from credax._src.registry import RULES

    steps = np.asarray(steps)
    names = list(results)
    styles = rule_styles(names)
    mark_every = max(1, len(steps) // 8)
    ok = {n: r["diverged_step"] < 0 for n, r in results.items()}
    written = []

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    key = "history_test_loss" if regression else "history_test_accuracy"
    for phase, (n, r) in enumerate(results.items()):
        if key in r:
            y = r[key][ok[n]]
            _series(axes[0], steps, y if regression else 100 * y, styles[n], mark_every, phase)
        if "history_train_loss" in r:
            _series(axes[1], steps, r["history_train_loss"][ok[n]], styles[n], mark_every, phase)
    axes[0].set(xlabel="step", ylabel="test loss" if regression else "test accuracy (%)")
    axes[1].set(xlabel="step", ylabel="training loss", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
    _legend(fig, names, styles)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append("curves.png")

    per_layer = []
    for r in results.values():
        for k, a in r.items():
            if k.startswith("history_") and a.ndim == 4 and k not in per_layer:
                per_layer.append(k)
    per_layer.sort(key=lambda k: (k != "history_update_angles", k))
    for k in per_layer:
        rec = k.removeprefix("history_")
        fname = "angles.png" if rec == "update_angles" else f"{rec}.png"
        shown = [
            n
            for n in names
            if k in results[n] and not (RULES[n].baseline and rec == "update_angles")
        ]
        n_layers = max(results[n][k].shape[-1] for n in shown) if shown else 0
        if not n_layers:
            continue
        fig, axes = plt.subplots(1, n_layers, figsize=(3.4 * n_layers, 3.2), squeeze=False)
        exact: dict[int, list[str]] = {}
        for phase, n in enumerate(shown):
            a = results[n][k][ok[n]]
            for i in range(a.shape[-1]):
                m, _ = mean_sd(a[..., i])
                if "angle" in rec and m is not None and np.nanmax(np.abs(m), initial=0) < 0.01:
                    exact.setdefault(i, []).append(RULES[n].label)  # a flat line at 0°
                    continue
                _series(axes[0, i], steps, a[..., i], styles[n], mark_every, phase)
        title = "angle to BP" if rec == "update_angles" else rec.replace("_", " ")
        for i in range(n_layers):
            axes[0, i].set(title=f"layer {i + 1}: {title}", xlabel="step")
            axes[0, i].grid(alpha=0.3)
            if "angle" in rec:
                axes[0, i].set_ylim(0, 120)
            if exact.get(i):
                flat = ", ".join(exact[i])
                axes[0, i].text(
                    0.02, 0.02, f"0° throughout: {flat}", transform=axes[0, i].transAxes,
                    fontsize=6.5, va="bottom", wrap=True,
                )  # fmt: skip
        axes[0, 0].set_ylabel("degrees" if "angle" in rec else rec)
        _legend(fig, shown, styles)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(fname)
    return written
