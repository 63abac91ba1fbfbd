"""The ``credax`` command: compare rules on a dataset over seeds, in one compiled program each.

    credax run [--rules bp,fa,...] [--dataset mnist1d] [--model mlp:40-256-256-10]
               [--seeds N] [--feedback-seeds K] [--epochs E] [--optimizer adam:1e-3] [--out DIR]
    credax list

Every argument is checked before anything is compiled; a bad one exits with status 2 and one line
naming the valid choices. Each finished (rule, seed block) is written to ``DIR`` at once and
atomically, so rerunning the same command resumes where it stopped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
OPTIMIZERS = ("adam", "adamw", "sgd")


class UsageError(Exception):
    """A bad command-line value: reported in one line, exit status 2."""


# ---------------------------------------------------------------- parsing (no JAX work here)


def parse_model(spec: str) -> dict:
    """``mlp:40-256-256-10[:tanh]`` or ``lenet[:relu]``."""
    parts = spec.split(":")
    kind = parts[0]
    if kind == "mlp":
        if len(parts) not in (2, 3):
            raise UsageError(f"bad --model {spec!r}; expected mlp:SIZES[:ACT] e.g. mlp:40-256-10")
        try:
            sizes = [int(s) for s in parts[1].split("-")]
        except ValueError:
            raise UsageError(
                f"bad --model sizes {parts[1]!r}; expected e.g. 40-256-256-10"
            ) from None
        if len(sizes) < 2 or min(sizes) < 1:
            raise UsageError(f"bad --model sizes {parts[1]!r}; need >= 2 positive sizes")
        act = parts[2] if len(parts) == 3 else "tanh"
        if act not in ACTIVATIONS:
            raise UsageError(f"unknown activation {act!r}; choose from {', '.join(ACTIVATIONS)}")
        return {"kind": "mlp", "sizes": sizes, "activation": act}
    if kind == "lenet":
        act = parts[1] if len(parts) == 2 else "relu"
        if len(parts) > 2 or act not in ACTIVATIONS:
            raise UsageError(f"bad --model {spec!r}; expected lenet[:{'|'.join(ACTIVATIONS)}]")
        return {"kind": "lenet", "activation": act}
    raise UsageError(f"unknown model {spec!r}; expected mlp:SIZES[:ACT] or lenet[:ACT]")


def parse_optimizer(spec: str) -> dict:
    """``adam:LR``, ``adamw:LR[:WD]`` or ``sgd:LR[:MOMENTUM]``."""
    parts = spec.split(":")
    if parts[0] not in OPTIMIZERS or not 2 <= len(parts) <= 3:
        raise UsageError(
            f"unknown optimizer {spec!r}; expected adam:LR, adamw:LR[:WD] or sgd:LR[:MOMENTUM]"
        )
    try:
        nums = [float(p) for p in parts[1:]]
    except ValueError:
        raise UsageError(f"bad optimizer numbers in {spec!r}") from None
    if nums[0] <= 0 or any(n < 0 for n in nums):
        raise UsageError(f"optimizer {spec!r}: the learning rate must be > 0")
    if parts[0] == "adam" and len(nums) > 1:
        raise UsageError(f"adam takes one number (the learning rate), got {spec!r}")
    return {"name": parts[0], "args": nums}


def build_optimizer(cfg: dict):
    import optax

    lr, *rest = cfg["args"]
    if cfg["name"] == "adam":
        return optax.adam(lr)
    if cfg["name"] == "adamw":
        return optax.adamw(lr, weight_decay=rest[0] if rest else 1e-4)
    return optax.sgd(lr, momentum=rest[0] if rest else None)


def build_model(cfg: dict, in_shape: tuple[int, ...]):
    import jax
    import jax.numpy as jnp

    from credax._src import nets

    act = {
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "sigmoid": jax.nn.sigmoid,
        "identity": nets.identity,
    }[cfg["activation"]]
    if cfg["kind"] == "mlp":
        return lambda key: nets.mlp(cfg["sizes"], activation=act, key=key)
    return lambda key: nets.lenet(key=key, in_shape=in_shape, activation=act)


def check_compatible(model: dict, x_shape: tuple, y: np.ndarray, dataset: str) -> tuple:
    """Checks model against data; returns the per-example input shape the model gets."""
    regression = y.ndim == 2
    n_out = y.shape[1] if regression else int(y.max()) + 1
    if model["kind"] == "mlp":
        n_in = math.prod(x_shape)
        if model["sizes"][0] != n_in:
            raise UsageError(
                f"model input {model['sizes'][0]} does not match {dataset} examples of shape "
                f"{x_shape} ({n_in} values); use mlp:{n_in}-..."
            )
        if model["sizes"][-1] != n_out:
            raise UsageError(
                f"model output {model['sizes'][-1]} does not match {dataset}'s {n_out} "
                f"{'targets' if regression else 'classes'}"
            )
        return (n_in,)
    if len(x_shape) != 3 or x_shape[1] > 32 or x_shape[2] > 32:
        raise UsageError(
            f"lenet needs images (C, H, W) of at most 32x32, {dataset} has examples {x_shape}"
        )
    if regression or n_out > 10:
        raise UsageError(f"lenet has 10 outputs; {dataset} has {n_out} classes")
    return (x_shape[0], 32, 32)


def make_parser() -> argparse.ArgumentParser:
    from credax._src.registry import RULES

    p = argparse.ArgumentParser(
        prog="credax",
        description="Biologically plausible credit "
        "assignment in JAX: compare learning rules over seeds.",
    )
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="compare rules on a dataset over seeds")
    r.add_argument("--rules", default=",".join(RULES), help="comma-separated (see credax list)")
    r.add_argument("--dataset", default="mnist1d")
    r.add_argument("--data-dir", default=None)
    r.add_argument("--model", default="mlp:40-256-256-10")
    r.add_argument("--seeds", type=int, default=8, help="init seeds")
    r.add_argument("--feedback-seeds", type=int, default=1, help="feedback draws per seed")
    r.add_argument("--epochs", type=int, default=20)
    r.add_argument("--batch-size", type=int, default=100)
    r.add_argument("--eval-every", type=int, default=None, help="steps (default: each epoch)")
    r.add_argument("--optimizer", default="adam:1e-3")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--block", type=int, default=None, help="seeds per checkpointed block (default: all)"
    )
    r.add_argument(
        "--seed-block",
        default="auto",
        help="seeds vmapped together inside the program: N, all, or auto (by device and width)",
    )
    r.add_argument("--out", default="runs/latest")
    sub.add_parser("list", help="rules and datasets, with references")
    return p


def fail(msg: str) -> None:
    print(f"credax: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


# ---------------------------------------------------------------- files


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, payload: Any) -> None:
    _atomic_write(path, lambda f: f.write(json.dumps(payload, indent=1).encode()))


def write_npz(path: Path, arrays: dict) -> None:
    _atomic_write(path, lambda f: np.savez(f, **arrays))


# ---------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar over (rule, seed block) units, compile time shown apart."""

    def __init__(self, total: int, stream=None):
        self.total, self.done = total, 0
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()
        self.t0 = time.perf_counter()

    def show(self, label: str) -> None:
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

    def step(self, label: str) -> None:
        self.done += 1
        self.show(label)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


# ---------------------------------------------------------------- commands


def cmd_list() -> None:
    from credax._src.data import DESCRIPTIONS
    from credax._src.registry import RULES

    for fam in dict.fromkeys(e.family for e in RULES.values()):
        print(f"rules ({fam}):")
        for name, e in RULES.items():
            if e.family == fam:
                print(f"  {name:9s} {e.label:9s} {e.description} ({e.reference})")
    print("datasets:")
    for name, d in DESCRIPTIONS.items():
        print(f"  {name:14s} {d}")


def cmd_run(args) -> int:
    from credax._src.registry import RULES

    # 1. Everything that can be checked without JAX work.
    rules = [r for r in args.rules.split(",") if r]
    bad = [r for r in rules if r not in RULES]
    if bad or not rules:
        fail(f"unknown rule(s) {', '.join(bad) or '(none)'}; choose from {', '.join(RULES)}")
    for flag in ("seeds", "feedback_seeds", "epochs", "batch_size"):
        if getattr(args, flag) < 1:
            fail(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    try:
        model_cfg = parse_model(args.model)
        opt_cfg = parse_optimizer(args.optimizer)
    except UsageError as e:
        fail(str(e))

    import jax

    from credax._src import data, losses, train
    from credax._src.registry import make_rule

    try:
        xtr, ytr = data.load(args.dataset, "train", data_dir=args.data_dir)
        xte, yte = data.load(args.dataset, "test", data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        fail(
            f"{e}"
            if "unknown dataset" not in str(e)
            else f"unknown dataset {args.dataset!r}; choose from {', '.join(data.DESCRIPTIONS)}"
        )
    try:
        in_shape = check_compatible(model_cfg, xtr.shape[1:], ytr, args.dataset)
    except UsageError as e:
        fail(str(e))
    if model_cfg["kind"] == "mlp":
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    elif in_shape[1:] != xtr.shape[2:]:
        xtr, xte = data._pad(xtr, in_shape[1]), data._pad(xte, in_shape[1])
    regression = ytr.ndim == 2
    if not regression and (ytr.min() < 0 or yte.min() < 0 or yte.max() > ytr.max()):
        fail(f"{args.dataset}: labels out of range [0, {int(ytr.max()) + 1})")
    if args.batch_size > len(xtr):
        fail(f"--batch-size {args.batch_size} exceeds the {len(xtr)} training examples")
    if args.seed_block in ("auto", "all"):
        seed_block = {"auto": "auto", "all": None}[args.seed_block]
    elif args.seed_block.isdigit() and int(args.seed_block) >= 1:
        seed_block = int(args.seed_block)
    else:
        fail(f"--seed-block must be a positive integer, all or auto, got {args.seed_block!r}")
    n_dev = jax.device_count()
    block = args.block or args.seeds
    if block < 1 or args.seeds % block or block % n_dev:
        fail(
            f"--block {block} must divide --seeds {args.seeds} and be a multiple of the "
            f"{n_dev} devices"
        )
    loss = losses.mse if regression else losses.softmax_cross_entropy
    optimizer = build_optimizer(opt_cfg)
    init_model = build_model(model_cfg, in_shape)
    spe = len(xtr) // args.batch_size
    eval_every = args.eval_every or spe
    if (
        eval_every < 1
        or (spe % eval_every and eval_every % spe)
        or (args.epochs * spe) % eval_every
    ):
        fail(f"--eval-every must divide or be a multiple of the {spe} steps per epoch")

    out = Path(args.out)
    config = {k: v for k, v in vars(args).items() if k not in ("command", "out", "rules")}
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if old != config:
            fail(f"{out} holds a run with other settings; use another --out or remove it")
    write_json(cfg_path, config)

    # 2. Training: one compiled program per rule, reused for every seed block.
    keys = train.sweep_keys(args.seed, args.seeds, args.feedback_seeds)
    n_blocks = args.seeds // block
    print(
        f"credax: {len(rules)} rules x {args.seeds} seeds x {args.feedback_seeds} feedback draws "
        f"on {args.dataset} ({model_cfg['kind']}), {args.epochs} epochs, "
        f"{jax.device_count()} {jax.default_backend()} device(s); writing {out}"
    )
    progress = Progress(len(rules) * n_blocks)
    summary: dict[str, Any] = {}
    eval_steps = None

    def blocks(b):
        lo, hi = b * block, (b + 1) * block
        return keys[0][lo:hi], keys[1], keys[2][lo:hi]

    plans = {}
    for name in rules:
        rule_dir = out / name
        todo = [b for b in range(n_blocks) if not (rule_dir / f"block_{b}.npz").exists()]
        if todo:
            run = train.make_fit(
                make_rule(name, loss),
                init_model,
                optimizer,
                loss=loss,
                train=(xtr, ytr),
                test=(xte, yte),
                epochs=args.epochs,
                batch_size=args.batch_size,
                eval_every=eval_every,
                classification=not regression,
            )
            # Perturbation rules' keys drive their noise: one stream per seed. Feedback-path
            # rules share each feedback draw across seeds (--feedback-seeds draws them).
            per_seed = RULES[name].stochastic
            fn = train.sweep_fn(run, seed_block=seed_block, rule_key_per_seed=per_seed)
            plans[name] = (run, fn, todo)

    def compile_program(fn, todo):
        t0 = time.perf_counter()
        compiled = fn.compile(*blocks(todo[0]))
        return compiled, time.perf_counter() - t0

    # Programs compile in the background, ahead of the rule being trained: on a small CPU
    # compilation is about half of a short sweep, and it overlaps with training this way.
    workers = max(1, min(2, (os.cpu_count() or 1) - 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {
            name: pool.submit(compile_program, fn, todo) for name, (_, fn, todo) in plans.items()
        }
        for name in rules:
            compile_s = train_s = 0.0
            todo = plans[name][2] if name in plans else []
            if len(todo) < n_blocks:
                progress.done += n_blocks - len(todo)
                progress.show(f"{name}: {n_blocks - len(todo)} block(s) done earlier, skipped")
            if todo:
                run = plans[name][0]
                progress.show(f"{name}: compiling")
                compiled, compile_s = futures[name].result()
                for b in todo:
                    progress.show(f"{name}: training block {b + 1}/{n_blocks}")
                    t0 = time.perf_counter()
                    res = jax.device_get(compiled(*blocks(b)))
                    train_s += time.perf_counter() - t0
                    arrays = {f"history_{k}": np.asarray(v) for k, v in res.history.items()}
                    arrays["diverged_step"] = np.asarray(res.diverged_step)
                    write_npz(out / name / f"block_{b}.npz", arrays)
                    progress.step(f"{name}: block {b + 1}/{n_blocks} saved")
                eval_steps = run.eval_steps
            summary[name] = {"compile_s": compile_s, "train_s": train_s}
    progress.close()

    # 3. Summary, table and plots from what is on disk (this run's and earlier runs' blocks).
    if eval_steps is None:
        eval_steps = [i * eval_every for i in range(args.epochs * spe // eval_every + 1)]
    results = {name: _load_rule(out / name, n_blocks) for name in rules}
    for name, r in results.items():
        summary[name].update(_summarise(r, regression))
        summary[name]["label"] = RULES[name].label
    write_json(out / "summary.json", {"config": config, "eval_steps": eval_steps, "rules": summary})
    _print_table(summary, regression)
    _plot(results, eval_steps, regression, out)
    print(f"wrote {out / 'summary.json'}, {out / 'curves.png'}, {out / 'angles.png'}")
    return 0


def _load_rule(rule_dir: Path, n_blocks: int) -> dict:
    parts = [np.load(rule_dir / f"block_{b}.npz") for b in range(n_blocks)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0].files}


def _summarise(r: dict, regression: bool) -> dict:
    div = r["diverged_step"]  # (seed, feedback)
    ok = div < 0
    metric = r["history_test_loss" if regression else "history_test_accuracy"][..., -1]
    angles = r["history_update_angles"][..., -1, :]  # (seed, feedback, layer)
    diverged = [
        {"seed": int(s), "feedback": int(f), "step": int(div[s, f])}
        for s, f in zip(*np.nonzero(~ok))
    ]
    good = metric[ok]
    key = "test_loss" if regression else "test_accuracy"
    return {
        f"{key}_mean": float(good.mean()) if good.size else None,
        f"{key}_sd": float(good.std()) if good.size else None,
        f"{key}_per_run": metric.tolist(),
        "final_update_angles": np.nanmean(angles[ok], 0).tolist() if good.size else None,
        "diverged": diverged,
        "runs": int(ok.size),
    }


def _print_table(summary: dict, regression: bool) -> None:
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
        ang = " ".join(f"{a:5.1f}" for a in (s["final_update_angles"] or []))
        print(
            f"{s['label']:{w}s} {acc:>16s}  {ang:30s} {s['compile_s']:9.1f} {s['train_s']:8.1f}"
            f"  {len(s['diverged'])}/{s['runs']}"
        )


def _plot(results: dict, steps, regression: bool, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.asarray(steps)
    fig, ax = plt.subplots(figsize=(6, 4))
    key = "history_test_loss" if regression else "history_test_accuracy"
    for name, r in results.items():
        ok = r["diverged_step"] < 0
        y = r[key][ok]
        if not y.size:
            continue
        y = y if regression else 100 * y
        m, s = y.mean(0), y.std(0)
        (line,) = ax.plot(steps, m, label=name)
        ax.fill_between(steps, m - s, m + s, alpha=0.2, color=line.get_color())
    ax.set(xlabel="step", ylabel="test loss" if regression else "test accuracy (%)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)

    n_layers = next(iter(results.values()))["history_update_angles"].shape[-1]
    fig, axes = plt.subplots(1, n_layers, figsize=(3.2 * n_layers, 3), squeeze=False)
    for name, r in results.items():
        if name == "bp":
            continue
        ok = r["diverged_step"] < 0
        a = r["history_update_angles"][ok]  # (runs, eval, layer)
        for i in range(n_layers):
            m, s = np.nanmean(a[..., i], 0), np.nanstd(a[..., i], 0)
            (line,) = axes[0, i].plot(steps, m, label=name)
            axes[0, i].fill_between(steps, m - s, m + s, alpha=0.2, color=line.get_color())
    for i in range(n_layers):
        axes[0, i].set(title=f"layer {i + 1}: angle to BP", xlabel="step", ylim=(0, 120))
    axes[0, 0].set_ylabel("degrees")
    if axes[0, -1].get_legend_handles_labels()[0]:
        axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "angles.png", dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.command == "list":
        cmd_list()
        return 0
    if args.command == "run":
        return cmd_run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
