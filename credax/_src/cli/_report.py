"""What ``credax run`` prints: a progress line, then a table of the rules over seeds."""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import numpy as np


class Progress:
    """A one-line progress bar over (rule, seed block) units, compile time shown apart."""

    def __init__(self, total: int, stream=None, quiet: bool = False):
        self.total, self.done = total, 0
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def show(self, label: str) -> None:
        if self.quiet:
            return
        width = 24
        fill = int(width * self.done / max(self.total, 1))
        line = (
            f"[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
            f"{time.perf_counter() - self.t0:6.1f}s  {label}"
        )
        if self.tty:
            self.stream.write("\r" + line[:100].ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        """A line that stays (a recomputed block, a skipped one)."""
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(message + "\n")
        self.stream.flush()

    def step(self, label: str) -> None:
        self.done += 1
        self.show(label)

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


def mean_sd(a: np.ndarray) -> tuple[Any, Any]:
    """Mean and sd over the first axis, ignoring NaN, without warnings for empty or all-NaN
    columns (those are None / NaN)."""
    if a.shape[0] == 0:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, 0), np.nanstd(a, 0)


def summarise(r: dict, regression: bool) -> dict:
    """One rule's summary from its arrays ``[seed, draw, record, ...]``: the final test metric
    over runs that did not diverge, every final record, the diverged runs."""
    div = r["diverged_step"]  # (seed, draw)
    ok = div < 0
    key = "test_loss" if regression else "test_accuracy"
    metric = r[f"history_{key}"][..., -1]
    good = metric[ok]
    diverged = [
        {"seed": int(s), "draw": int(f), "step": int(div[s, f])} for s, f in zip(*np.nonzero(~ok))
    ]
    final = {}
    for name, a in r.items():
        if not name.startswith("history_") or name == "history_finite":
            continue
        m, _ = mean_sd(a[ok][:, -1])
        final[name.removeprefix("history_")] = None if m is None else np.asarray(m).tolist()
    m, s = mean_sd(good)
    return {
        f"{key}_mean": None if m is None else float(m),
        f"{key}_sd": None if s is None else float(s),
        f"{key}_per_run": metric.tolist(),
        "final_update_angles": final.get("update_angles"),
        "final": final,
        "diverged": diverged,
        "runs": int(ok.size),
    }


def fmt(v) -> str:
    """Numbers for the table, with significant digits whatever their size."""
    if v is None:
        return "-"
    vals = np.atleast_1d(np.asarray(v, float))
    out = []
    for x in vals:
        if not np.isfinite(x):
            out.append("  nan")
        elif x == 0 or 0.1 <= abs(x) < 1e4:
            out.append(f"{x:5.1f}" if abs(x) >= 1 or x == 0 else f"{x:5.3f}")
        else:
            out.append(f"{x:.2e}")
    return " ".join(out)


STANDARD = {"train_loss", "test_loss", "test_accuracy", "update_angles"}


def print_table(summary: dict, regression: bool) -> None:
    key = "test_loss" if regression else "test_accuracy"
    head = "test loss" if regression else "test acc %"
    scale = 1.0 if regression else 100.0
    w = max([4, *(len(s["label"]) for s in summary.values())])
    print(
        f"{'rule':{w}s} {head:>16s}  {'angle to BP per layer (deg)':30s} {'compile s':>9s} "
        f"{'train s':>8s}  diverged"
    )
    for s in summary.values():
        m = s[f"{key}_mean"]
        acc = f"{scale * m:7.2f} ± {scale * s[f'{key}_sd']:5.2f}" if m is not None else "-"
        ang = fmt(s["final_update_angles"]) if s["final_update_angles"] is not None else "-"
        print(
            f"{s['label']:{w}s} {acc:>16s}  {ang:30s} {s['compile_s']:9.1f} {s['train_s']:8.1f}"
            f"  {len(s['diverged'])}/{s['runs']}"
        )
    extra = [
        (s["label"], k, v)
        for s in summary.values()
        for k, v in s["final"].items()
        if k not in STANDARD
    ]
    if extra:
        print("records the rules report (final, mean over seeds that did not diverge):")
        for label, k, v in extra:
            print(f"  {label:{w}s} {k:20s} {fmt(v)}")
