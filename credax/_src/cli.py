"""The ``credax`` command: compare rules on a dataset over seeds, in one compiled program each.

    credax run [--rules bp,fa,...] [--dataset mnist1d] [--model mlp:40-256-256-10]
               [--seeds N] [--feedback-seeds K] [--epochs E] [--optimizer adam:1e-3] [--out DIR]
    credax list

Every argument is checked before anything is compiled; a bad one exits with status 2 and one line
naming what was expected. Each finished (rule, seed block) is written to ``DIR`` at once and
atomically, with the settings it was made with, so rerunning the same command resumes where it
stopped; a block that cannot be read back is recomputed, and blocks made with other settings are
never reused. Compiled programs are kept in a persistent cache (``--cache-dir``), so a second run
of the same comparison skips compilation.
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
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
OPTIMIZERS = ("adam", "adamw", "sgd")
# Settings that do not change the results, so a rerun may change them freely.
NEUTRAL = ("command", "out", "rules", "cache_dir", "no_cache", "distributed", "coordinator",
           "num_processes", "process_id")  # fmt: skip


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
                f"bad --model sizes {parts[1]!r}; expected positive integers, e.g. 40-256-256-10"
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
    """``adam:LR``, ``adamw:LR[:WD]`` or ``sgd:LR[:MOMENTUM]``, finite numbers."""
    parts = spec.split(":")
    if parts[0] not in OPTIMIZERS or not 2 <= len(parts) <= 3:
        raise UsageError(
            f"unknown optimizer {spec!r}; expected adam:LR, adamw:LR[:WD] or sgd:LR[:MOMENTUM]"
        )
    try:
        nums = [float(p) for p in parts[1:]]
    except ValueError:
        raise UsageError(f"bad optimizer numbers in {spec!r}; expected e.g. adam:1e-3") from None
    if not all(math.isfinite(n) for n in nums):
        raise UsageError(f"optimizer {spec!r}: expected finite numbers")
    if nums[0] <= 0:
        raise UsageError(f"optimizer {spec!r}: the learning rate must be > 0")
    if any(n < 0 for n in nums[1:]):
        raise UsageError(f"optimizer {spec!r}: weight decay and momentum must be >= 0")
    if parts[0] == "adam" and len(nums) > 1:
        raise UsageError(f"adam takes one number (the learning rate), got {spec!r}")
    return {"name": parts[0], "args": nums}


def parse_rules(spec: str) -> list[str]:
    """Registry names from short names, labels or factory names, in order, without repeats."""
    from credax._src.registry import RULES, lookup

    names = [r.strip() for r in spec.split(",") if r.strip()]
    if not names:
        raise UsageError(f"--rules is empty; choose from {', '.join(RULES)}")
    out, bad = [], []
    for n in names:
        try:
            out.append(lookup(n).name)
        except ValueError:
            bad.append(n)
    if bad:
        raise UsageError(
            f"unknown rule(s) {', '.join(bad)}; choose from {', '.join(RULES)} or their factory "
            "names (credax list)"
        )
    return list(dict.fromkeys(out))


def check_supervised(names: list[str]) -> None:
    """``credax run`` compares rules on a supervised task (its evaluation is the test loss,
    accuracy and angles to backprop)."""
    from credax._src.registry import RULES
    from credax._src.tasks import SUPERVISED

    other = [f"{n} ({RULES[n].task})" for n in names if RULES[n].task != SUPERVISED]
    if other:
        raise UsageError(
            f"credax run compares supervised rules; {', '.join(other)} need a task of their own "
            "(use credax.train.make_fit with an evaluate function)"
        )


def parse_diverge(spec: str) -> float | None:
    if spec.lower() == "none":
        return None
    try:
        v = float(spec)
    except ValueError:
        raise UsageError(f"--diverge-factor expects a number > 1 or none, got {spec!r}") from None
    if not math.isfinite(v) or v <= 1:
        raise UsageError(f"--diverge-factor expects a finite number > 1 or none, got {spec!r}")
    return v


def parse_seed_block(spec: str) -> int | str | None:
    if spec in ("auto", "all"):
        return {"auto": "auto", "all": None}[spec]
    if spec.isdigit() and int(spec) >= 1:
        return int(spec)
    raise UsageError(f"--seed-block must be a positive integer, all or auto, got {spec!r}")


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


def check_chain_rules(names: list[str], model: dict, spec: str) -> None:
    """Rules that move activities layer by layer need an MLP with a hidden layer."""
    from credax._src.registry import RULES

    chain = [n for n in names if RULES[n].chain_only]
    if chain and (model["kind"] != "mlp" or len(model["sizes"]) < 3):
        raise UsageError(
            f"{', '.join(chain)} need{'s' if len(chain) == 1 else ''} a chain of dense layers "
            f"with a hidden layer (--model mlp:IN-HIDDEN-...-OUT), got --model {spec}"
        )


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


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "credax"


def make_parser() -> argparse.ArgumentParser:
    from credax._src.registry import RULES

    p = argparse.ArgumentParser(
        prog="credax",
        description="Biologically plausible credit "
        "assignment in JAX: compare learning rules over seeds.",
    )
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="compare rules on a dataset over seeds")
    r.add_argument(
        "--rules",
        default=",".join(n for n, e in RULES.items() if e.in_default_run),
        help="comma-separated short names, labels or factory names (see credax list; default: "
        "every rule but "
        + ", ".join(n for n, e in RULES.items() if not e.in_default_run)
        + ", which settle for many inner steps per update)",
    )
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
    r.add_argument(
        "--diverge-factor",
        default="100",
        help="a seed diverged when its training loss is non-finite or exceeds this multiple of "
        "max(|initial loss|, 1); 'none' checks finiteness only (default 100)",
    )
    r.add_argument("--out", default="runs/latest")
    r.add_argument(
        "--cache-dir",
        default=None,
        help=f"persistent cache of compiled programs and generated data (default "
        f"{default_cache_dir()})",
    )
    r.add_argument("--no-cache", action="store_true", help="no persistent compilation cache")
    r.add_argument(
        "--distributed",
        action="store_true",
        help="run across processes (jax.distributed): on a TPU slice, the same command on every "
        "host; elsewhere with --coordinator, --num-processes and --process-id",
    )
    r.add_argument("--coordinator", default=None, help="host:port of process 0 (--distributed)")
    r.add_argument("--num-processes", type=int, default=None)
    r.add_argument("--process-id", type=int, default=None)
    ls = sub.add_parser("list", help="rules and datasets, with references")
    ls.add_argument(
        "names", nargs="*", help="rules to describe in full (short names, labels or factory names)"
    )
    return p


def fail(msg: str) -> None:
    print(f"credax: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


# ---------------------------------------------------------------- files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _atomic_write(path: Path, write) -> None:
    """Writes ``path`` whole or not at all, with the permissions the user's umask gives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file readable by its owner only
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, payload: Any) -> None:
    _atomic_write(path, lambda f: f.write(json.dumps(payload, indent=1).encode()))


def write_npz(path: Path, arrays: dict) -> None:
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def check_out_dir(out: Path) -> None:
    """``--out`` must be a directory we can create and write: checked before any work."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; expected a directory (new or from an earlier run)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        fail(f"--out {out} is not a writable directory ({e.strerror or e})")


def settings_diff(old: dict, new: dict) -> str:
    """The settings that differ, as ``--flag old -> new``."""
    keys = sorted(set(old) | set(new))
    diffs = [
        f"--{k.replace('_', '-')} {old.get(k)!r} -> {new.get(k)!r}"
        for k in keys
        if old.get(k) != new.get(k)
    ]
    return ", ".join(diffs)


def read_block(path: Path, config: dict, shape: tuple[int, int]) -> tuple[dict | None, str]:
    """A saved block, verified: readable (every array decompressed and CRC-checked), made with
    ``config``, with ``shape = (seeds, draws)`` leading axes. Returns ``(arrays, problem)``:
    ``problem`` is "" when the block can be used, "settings" (arrays None) when it was made with
    other settings, or a description of the damage."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        return None, f"unreadable ({type(e).__name__})"
    if "settings" not in arrays or "diverged_step" not in arrays:
        return None, "written by another version (no settings)"
    try:
        made_with = json.loads(str(arrays.pop("settings")))
    except ValueError:
        return None, "damaged settings"
    if made_with != config:
        return {"settings": made_with}, "settings"
    if arrays["diverged_step"].shape != shape or any(
        a.shape[:2] != shape for k, a in arrays.items() if k.startswith("history_")
    ):
        return None, "arrays of the wrong shape"
    return arrays, ""


# ---------------------------------------------------------------- progress


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


# ---------------------------------------------------------------- commands


def cmd_list(names: list[str] | None = None) -> None:
    from credax._src.data import DESCRIPTIONS
    from credax._src.registry import FAMILIES, RULES

    if names:
        try:
            entries = [RULES[n] for n in parse_rules(",".join(names))]
        except UsageError as e:
            fail(str(e))
        flags = ("feedback_path", "sign_concordant", "learns_feedback", "direct", "stochastic",
                 "estimator")  # fmt: skip
        for e in entries:
            doc = (e.factory.__doc__ or "").strip().splitlines()[0]
            options = ", ".join(f"{k}={v!r}" for k, v in e.options.items())
            print(f"{e.name} ({e.label}): {e.factory_name}({options})")
            print(f"  {doc}")
            print(f"  family {e.family}, task {e.task}; {e.description} ({e.reference})")
            print(f"  records: {', '.join(e.diagnostics) or '(the default ones only)'}")
            print(f"  flags: {', '.join(f for f in flags if getattr(e, f)) or 'none'}")
        return

    for fam in FAMILIES:
        print(f"rules ({fam}):")
        for name, e in RULES.items():
            if e.family == fam:
                variant = ", ".join(f"{k}={v}" for k, v in e.options.items())
                factory = f"{e.factory_name}({variant})" if variant else e.factory_name
                print(f"  {name:9s} {e.label:9s} {factory:34s} {e.description} ({e.reference})")
    print("datasets:")
    for name, d in DESCRIPTIONS.items():
        print(f"  {name:14s} {d}")


def _configure_jax(args) -> Path | None:
    """XLA and cache settings, before JAX starts its backend. Returns the cache directory."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        # LLVM -O2 instead of -O3: about 25% less compile time for these programs, and training
        # measured as fast (2-core CPU); a user's own XLA_FLAGS take precedence.
        os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=2").strip()
    import jax

    if args.distributed:
        from credax._src.train import initialize_distributed

        initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    if args.no_cache:
        return None
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    try:
        (cache / "jax").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        fail(f"--cache-dir {cache} cannot be created ({e.strerror or e}); use --no-cache")
    jax.config.update("jax_compilation_cache_dir", str(cache / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return cache


def _validate(args) -> dict:
    """Everything that can be checked without JAX: returns the parsed plan."""
    for flag in ("seeds", "feedback_seeds", "epochs", "batch_size"):
        if getattr(args, flag) < 1:
            fail(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.block is not None and (args.block < 1 or args.seeds % args.block):
        fail(f"--block must be a positive divisor of --seeds {args.seeds}, got {args.block}")
    if args.eval_every is not None and args.eval_every < 1:
        fail(f"--eval-every must be a positive number of steps, got {args.eval_every}")
    if args.distributed and args.coordinator is None and args.num_processes is not None:
        fail("--num-processes needs --coordinator (host:port of process 0)")
    try:
        rules = parse_rules(args.rules)
        check_supervised(rules)
        model = parse_model(args.model)
        check_chain_rules(rules, model, args.model)
        return {
            "rules": rules,
            "model": model,
            "optimizer": parse_optimizer(args.optimizer),
            "seed_block": parse_seed_block(args.seed_block),
            "diverge": parse_diverge(args.diverge_factor),
        }
    except UsageError as e:
        fail(str(e))


def _load_data(args, cache):
    from credax._src import data

    try:
        kw = {"data_dir": args.data_dir}
        if args.dataset == "mnist1d" and cache is not None:
            kw["cache_dir"] = cache / "data"
        xtr, ytr = data.load(args.dataset, "train", **kw)
        xte, yte = data.load(args.dataset, "test", **kw)
    except (ValueError, FileNotFoundError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "unknown dataset" in msg:
            msg = f"unknown dataset {args.dataset!r}; choose from {', '.join(data.DESCRIPTIONS)}"
        fail(msg)
    return xtr, ytr, xte, yte


def cmd_run(args) -> int:
    from credax._src.registry import RULES

    # 1. Everything that can be checked without JAX work, the output directory included.
    plan = _validate(args)
    rules = plan["rules"]
    out = Path(args.out)
    config = {k: v for k, v in vars(args).items() if k not in NEUTRAL}
    cfg_path = out / "config.json"
    if cfg_path.is_file():
        try:
            old = json.loads(cfg_path.read_text())
        except (OSError, ValueError):
            old = None  # unreadable: the blocks' own settings decide below
        if old is not None and old != config:
            fail(
                f"{out} holds a run with other settings ({settings_diff(old, config)}); use "
                "another --out or remove it"
            )
    check_out_dir(out)

    # 2. JAX, data and the checks that need them.
    cache = _configure_jax(args)
    import jax

    from credax._src import data, losses, train

    main_process = jax.process_index() == 0
    xtr, ytr, xte, yte = _load_data(args, cache)
    try:
        in_shape = check_compatible(plan["model"], xtr.shape[1:], ytr, args.dataset)
    except UsageError as e:
        fail(str(e))
    if plan["model"]["kind"] == "mlp":
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    elif in_shape[1:] != xtr.shape[2:]:
        xtr, xte = data._pad(xtr, in_shape[1]), data._pad(xte, in_shape[1])
    regression = ytr.ndim == 2
    if not regression and (ytr.min() < 0 or yte.min() < 0 or yte.max() > ytr.max()):
        fail(f"{args.dataset}: labels out of range [0, {int(ytr.max()) + 1})")
    if args.batch_size > len(xtr):
        fail(f"--batch-size {args.batch_size} exceeds the {len(xtr)} training examples")
    spe = len(xtr) // args.batch_size
    total = args.epochs * spe
    eval_every = args.eval_every or spe
    if total % eval_every:
        fail(f"--eval-every must divide the {total} training steps ({spe} per epoch), got "
             f"{eval_every}")  # fmt: skip
    block = args.block or args.seeds
    n_blocks = args.seeds // block
    loss = losses.mse if regression else losses.softmax_cross_entropy
    optimizer = build_optimizer(plan["optimizer"])
    init_model = build_model(plan["model"], in_shape)
    shape = (block, args.feedback_seeds)

    # 3. Resume: which blocks are done (verified), which must be (re)computed.
    progress = Progress(len(rules) * n_blocks, quiet=not main_process)
    todo: dict[str, list[int]] = {}
    for name in rules:
        todo[name] = []
        for b in range(n_blocks):
            path = out / name / f"block_{b}.npz"
            if not path.exists():
                todo[name].append(b)
                continue
            arrays, problem = read_block(path, config, shape)
            if problem == "settings":
                fail(
                    f"{path} was made with other settings "
                    f"({settings_diff(arrays['settings'], config)}); use another --out or "
                    "remove it"
                )
            if problem:
                progress.note(f"credax: {path} is {problem}; recomputing it")
                todo[name].append(b)
    if jax.process_count() > 1:  # every process runs the same programs: process 0 decides
        from jax.experimental import multihost_utils

        flags = np.array([[b in todo[n] for b in range(n_blocks)] for n in rules], np.int32)
        flags = np.asarray(multihost_utils.broadcast_one_to_all(flags))
        todo = {n: [b for b in range(n_blocks) if flags[i, b]] for i, n in enumerate(rules)}
    if main_process:
        write_json(cfg_path, config)

    # 4. Training: one compiled program per rule, reused for every seed block.
    keys = train.sweep_keys(args.seed, args.seeds, args.feedback_seeds)
    if main_process:
        print(
            f"credax: {len(rules)} rules x {args.seeds} seeds x {args.feedback_seeds} feedback "
            f"draws on {args.dataset} ({plan['model']['kind']}), {args.epochs} epochs, "
            f"{jax.device_count()} {jax.default_backend()} device(s)"
            f"{'' if jax.process_count() == 1 else f' in {jax.process_count()} processes'}; "
            f"writing {out}"
        )

    def blocks(b):
        lo, hi = b * block, (b + 1) * block
        return keys[0][lo:hi], keys[1], keys[2][lo:hi]

    plans = {}
    for name in rules:
        if todo[name]:
            fit = train.make_fit(
                RULES[name].make(loss),
                init_model,
                optimizer,
                loss=loss,
                train=(xtr, ytr),
                test=(xte, yte),
                epochs=args.epochs,
                batch_size=args.batch_size,
                eval_every=eval_every,
                classification=not regression,
                diverge_factor=plan["diverge"],
            )
            # Rules whose key drives fresh noise get one stream per seed; feedback-path rules
            # share each feedback draw across seeds (--feedback-seeds draws them).
            fn = train.sweep_fn(
                fit, seed_block=plan["seed_block"], rule_key_per_seed=RULES[name].stochastic
            )
            plans[name] = fn

    def compile_program(fn, b):
        t0 = time.perf_counter()
        fn.compile(*blocks(b))
        return time.perf_counter() - t0

    summary: dict[str, Any] = {}
    # Programs compile in the background, ahead of the rule being trained: on a small CPU
    # compilation is about half of a short sweep, and it overlaps with training this way.
    workers = max(1, min(2, (os.cpu_count() or 1) - 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {
            name: pool.submit(compile_program, fn, todo[name][0]) for name, fn in plans.items()
        }
        for name in rules:
            compile_s = train_s = 0.0
            done = n_blocks - len(todo[name])
            if done:
                progress.done += done
                progress.show(f"{name}: {done} block(s) done earlier, skipped")
            if todo[name]:
                fn = plans[name]
                progress.show(f"{name}: compiling")
                compile_s = futures[name].result()
                for b in todo[name]:
                    progress.show(f"{name}: training block {b + 1}/{n_blocks}")
                    t0 = time.perf_counter()
                    res = jax.device_get(fn(*blocks(b)))
                    train_s += time.perf_counter() - t0
                    if main_process:
                        arrays = {f"history_{k}": np.asarray(v) for k, v in res.history.items()}
                        arrays["diverged_step"] = np.asarray(res.diverged_step)
                        arrays["settings"] = np.array(json.dumps(config))
                        write_npz(out / name / f"block_{b}.npz", arrays)
                    progress.step(f"{name}: block {b + 1}/{n_blocks} saved")
            summary[name] = {"compile_s": compile_s, "train_s": train_s}
    progress.close()
    if not main_process:
        return 0

    # 5. Summary, table and plots from what is on disk; rules of earlier runs into this --out
    # that this run did not ask for are kept.
    eval_steps = [i * eval_every for i in range(total // eval_every + 1)]
    previous = _previous_summary(out / "summary.json", config)
    results = {}
    for name in rules:
        results[name] = _load_rule(out / name, n_blocks, config, shape)
    for name, entry in previous.items():
        if name in results or name not in RULES:
            continue
        loaded = _try_load_rule(out / name, n_blocks, config, shape)
        if loaded is not None:
            results[name] = loaded
            summary[name] = {k: entry.get(k, 0.0) for k in ("compile_s", "train_s")}
    for name, r in results.items():
        summary[name].update(_summarise(r, regression))
        summary[name]["label"] = RULES[name].label
        summary[name]["family"] = RULES[name].family
    order = [n for n in RULES if n in results]
    summary = {n: summary[n] for n in order}
    results = {n: results[n] for n in order}
    write_json(out / "summary.json", {"config": config, "eval_steps": eval_steps, "rules": summary})
    _print_table(summary, regression)
    written = _plot(results, eval_steps, regression, out)
    print(f"wrote {out / 'summary.json'}, {', '.join(str(out / w) for w in written)}")
    return 0


def _previous_summary(path: Path, config: dict) -> dict:
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict) or old.get("config") != config:
        return {}
    rules = old.get("rules")
    return rules if isinstance(rules, dict) else {}


def _try_load_rule(rule_dir: Path, n_blocks: int, config: dict, shape) -> dict | None:
    parts = []
    for b in range(n_blocks):
        arrays, problem = read_block(rule_dir / f"block_{b}.npz", config, shape)
        if problem:
            return None
        parts.append(arrays)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _load_rule(rule_dir: Path, n_blocks: int, config: dict, shape) -> dict:
    loaded = _try_load_rule(rule_dir, n_blocks, config, shape)
    if loaded is None:
        fail(f"{rule_dir}: a block written in this run cannot be read back; rerun to recompute it")
    return loaded


def _mean_sd(a: np.ndarray) -> tuple[Any, Any]:
    """Mean and sd over the first axis, ignoring NaN, without warnings for empty or all-NaN
    columns (those are None / NaN)."""
    if a.shape[0] == 0:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, 0), np.nanstd(a, 0)


def _summarise(r: dict, regression: bool) -> dict:
    div = r["diverged_step"]  # (seed, feedback)
    ok = div < 0
    key = "test_loss" if regression else "test_accuracy"
    metric = r[f"history_{key}"][..., -1]
    good = metric[ok]
    diverged = [
        {"seed": int(s), "feedback": int(f), "step": int(div[s, f])}
        for s, f in zip(*np.nonzero(~ok))
    ]
    final = {}
    for name, a in r.items():
        if not name.startswith("history_") or name in ("history_finite",):
            continue
        m, _ = _mean_sd(a[ok][:, -1])
        final[name.removeprefix("history_")] = None if m is None else np.asarray(m).tolist()
    m, s = _mean_sd(good)
    angles = final.get("update_angles")
    return {
        f"{key}_mean": None if m is None else float(m),
        f"{key}_sd": None if s is None else float(s),
        f"{key}_per_run": metric.tolist(),
        "final_update_angles": angles,
        "final": final,
        "diverged": diverged,
        "runs": int(ok.size),
    }


def _fmt(v) -> str:
    if v is None:
        return "-"
    vals = np.atleast_1d(np.asarray(v, float))
    return " ".join("  nan" if not np.isfinite(x) else f"{x:5.1f}" for x in vals)


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
        ang = _fmt(s["final_update_angles"]) if s["final_update_angles"] is not None else "-"
        print(
            f"{s['label']:{w}s} {acc:>16s}  {ang:30s} {s['compile_s']:9.1f} {s['train_s']:8.1f}"
            f"  {len(s['diverged'])}/{s['runs']}"
        )
    standard = {"train_loss", "test_loss", "test_accuracy", "update_angles"}
    extra = [
        (s["label"], k, v)
        for s in summary.values()
        for k, v in s["final"].items()
        if k not in standard
    ]
    if extra:
        print("records the rules report (final, mean over seeds that did not diverge):")
        for label, k, v in extra:
            print(f"  {label:{w}s} {k:20s} {_fmt(v)}")


# ---------------------------------------------------------------- plots

FAMILY_STYLE = {"feedback": "-", "perturbation": "--"}
OTHER_STYLES = ["-.", ":", (0, (5, 1, 1, 1))]
# One palette and marker order per family (by family index), so that no two rules share a
# colour, a marker and a line style.
PALETTES = [
    ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"],
    ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"],
    ["#bcbd22", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"],
]  # fmt: skip
MARKERS = ["o", "s", "^", "v", "D", "P", "X", "*", "<", ">"]


def rule_styles(names: list[str]) -> dict[str, dict]:
    """One distinct style per rule: a line style per family, a colour and marker per rule within
    its family (backprop, the reference, in black)."""
    from credax._src.registry import FAMILIES, RULES

    styles, count = {}, {}
    extra = iter(OTHER_STYLES * 4)
    fam_style = dict(FAMILY_STYLE)
    for fam in FAMILIES:
        fam_style.setdefault(fam, next(extra))
    for name in names:
        e = RULES[name]
        if name == "bp":
            styles[name] = {"color": "black", "linestyle": "-", "marker": None, "linewidth": 2.2}
            continue
        i = count.get(e.family, 0)
        count[e.family] = i + 1
        f = FAMILIES.index(e.family)
        palette = PALETTES[f % len(PALETTES)]
        styles[name] = {
            "color": palette[i % len(palette)],
            "linestyle": fam_style[e.family],
            "marker": MARKERS[(i + 3 * f) % len(MARKERS)],
            "linewidth": 1.4,
        }
    return styles


def _legend(fig, axes, names, styles) -> None:
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
            st = styles[n]
            handles.append(Line2D([], [], markersize=5, **st))
            labels.append(RULES[n].label)
    fig.legend(
        handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False
    )


def _series(ax, steps, y, style, mark_every):
    m, s = _mean_sd(y)
    if m is None or not np.isfinite(m).any():
        return
    ax.plot(steps, m, markevery=mark_every, markersize=4, **style)
    ax.fill_between(steps, m - s, m + s, alpha=0.12, color=style["color"], linewidth=0)


def _plot(results: dict, steps, regression: bool, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.asarray(steps)
    names = list(results)
    styles = rule_styles(names)
    mark_every = max(1, len(steps) // 8)
    ok = {n: r["diverged_step"] < 0 for n, r in results.items()}
    written = []

    # Learning curves: the test metric and the training loss.
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    key = "history_test_loss" if regression else "history_test_accuracy"
    for n, r in results.items():
        y = r[key][ok[n]]
        _series(axes[0], steps, y if regression else 100 * y, styles[n], mark_every)
        if "history_train_loss" in r:
            _series(axes[1], steps, r["history_train_loss"][ok[n]], styles[n], mark_every)
    axes[0].set(xlabel="step", ylabel="test loss" if regression else "test accuracy (%)")
    axes[1].set(xlabel="step", ylabel="training loss", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
    _legend(fig, axes, names, styles)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append("curves.png")

    # Per-layer records: the update angles to backprop, then whatever else the rules record.
    per_layer = []
    for r in results.values():
        for k, a in r.items():
            if k.startswith("history_") and a.ndim == 4 and k not in per_layer:
                per_layer.append(k)
    per_layer.sort(key=lambda k: (k != "history_update_angles", k))
    for k in per_layer:
        rec = k.removeprefix("history_")
        fname = "angles.png" if rec == "update_angles" else f"{rec}.png"
        shown = [n for n in names if k in results[n] and not (n == "bp" and rec == "update_angles")]
        n_layers = max(results[n][k].shape[-1] for n in shown) if shown else 0
        if not n_layers:
            continue
        fig, axes = plt.subplots(1, n_layers, figsize=(3.4 * n_layers, 3.2), squeeze=False)
        for n in shown:
            a = results[n][k][ok[n]]
            for i in range(a.shape[-1]):
                _series(axes[0, i], steps, a[..., i], styles[n], mark_every)
        title = "angle to BP" if rec == "update_angles" else rec.replace("_", " ")
        for i in range(n_layers):
            axes[0, i].set(title=f"layer {i + 1}: {title}", xlabel="step")
            axes[0, i].grid(alpha=0.3)
            if "angle" in rec:
                axes[0, i].set_ylim(0, 120)
        axes[0, 0].set_ylabel("degrees" if "angle" in rec else rec)
        _legend(fig, axes, shown, styles)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(fname)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.command == "list":
        cmd_list(args.names)
        return 0
    if args.command == "run":
        return cmd_run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
