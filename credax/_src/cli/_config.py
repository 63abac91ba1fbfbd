"""The command line, parsed once into a typed run configuration (no JAX work here).

``RunConfig`` holds every setting of ``credax run``. ``RunConfig.identity()`` is the allow-list
of the settings that change results: saved blocks carry it, and a rerun into the same ``--out``
reuses a block only if it was made with the same identity. A new flag changes nothing there
until it is added to ``RESULT_FIELDS``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
ENCODINGS = ("current", "poisson", "latency")
# The spiking network of --model snn:...: dt 1 ms, τ_mem 10 ms, τ_syn 5 ms, threshold 1, reset
# to 0; inputs scaled by the training set's range (Poisson at up to SNN_MAX_RATE Hz, or one
# spike, earlier for larger values); a leaky-integrator readout whose maximum over time is the
# logits (Zenke & Vogels 2021). Glorot weights times SNN_WEIGHT_SCALE, the readout's times
# SNN_READOUT_SCALE (initial logits of order one). Measured with backprop on MNIST-1D
# (40-128-10, 50 steps, Adam 3e-3, 5 epochs): current 36% test accuracy, Poisson 13% (its
# noise swamps MNIST-1D's small deviations at 50 steps; Fashion-MNIST's intensities suit it).
SNN_MAX_RATE = 200.0
SNN_WEIGHT_SCALE = 2.0
SNN_READOUT_SCALE = 0.25
OPTIMIZERS = ("adam", "adamw", "sgd")
# The settings that change results, by RunConfig field (the key of each in identity()).
RESULT_FIELDS = (
    "dataset", "model", "seeds", "draws", "epochs", "batch_size", "eval_every", "optimizer",
    "seed", "block", "seed_block", "diverge_factor", "precision",
)  # fmt: skip
IDENTITY_FORMAT = 3
# Datasets generated in memory: --data-dir means nothing to them.
GENERATED = ("mnist1d", "teacher", "teacher_tanh")
# How the command's flags are named in messages from the library's own checks.
FLAG_NAMES = {"batch_size": "--batch-size", "epochs": "--epochs", "eval_every": "--eval-every"}


class UsageError(Exception):
    """A bad command-line value: reported in one line, exit status 2."""


def fail(msg: str) -> None:
    print(f"credax: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


# --- parsing ----------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split("-")]
    except ValueError:
        raise UsageError(
            f"bad --model sizes {text!r}; expected positive integers, e.g. 40-256-256-10"
        ) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise UsageError(f"bad --model sizes {text!r}; need >= 2 positive sizes")
    return sizes


def parse_model(spec: str) -> dict:
    """``mlp:40-256-256-10[:tanh]``, ``lenet[:relu]`` or ``snn:40-128-10[:current[:50]]``."""
    parts = spec.split(":")
    kind = parts[0]
    if kind == "latency":
        if len(parts) != 2:
            raise UsageError(f"bad --model {spec!r}; expected latency:SIZES e.g. latency:40-100-10")
        return {"kind": "latency", "sizes": _sizes(parts[1])}
    if kind == "snn":
        if len(parts) not in (2, 3, 4):
            raise UsageError(
                f"bad --model {spec!r}; expected snn:SIZES[:ENCODING[:STEPS]] e.g. "
                "snn:40-128-10:poisson:50"
            )
        sizes = _sizes(parts[1])
        encoding = parts[2] if len(parts) > 2 else "current"
        if encoding not in ENCODINGS:
            raise UsageError(f"unknown encoding {encoding!r}; choose from {', '.join(ENCODINGS)}")
        try:
            steps = int(parts[3]) if len(parts) > 3 else 50
        except ValueError:
            raise UsageError(f"bad --model steps {parts[3]!r}; expected a positive int") from None
        if steps < 1:
            raise UsageError(f"bad --model steps {steps}; expected a positive int")
        return {"kind": "snn", "sizes": sizes, "encoding": encoding, "steps": steps}
    if kind == "mlp":
        if len(parts) not in (2, 3):
            raise UsageError(f"bad --model {spec!r}; expected mlp:SIZES[:ACT] e.g. mlp:40-256-10")
        sizes = _sizes(parts[1])
        act = parts[2] if len(parts) == 3 else "tanh"
        if act not in ACTIVATIONS:
            raise UsageError(f"unknown activation {act!r}; choose from {', '.join(ACTIVATIONS)}")
        return {"kind": "mlp", "sizes": sizes, "activation": act}
    if kind == "lenet":
        act = parts[1] if len(parts) == 2 else "relu"
        if len(parts) > 2 or act not in ACTIVATIONS:
            raise UsageError(f"bad --model {spec!r}; expected lenet[:{'|'.join(ACTIVATIONS)}]")
        return {"kind": "lenet", "activation": act}
    raise UsageError(
        f"unknown model {spec!r}; expected mlp:SIZES[:ACT], lenet[:ACT], "
        "snn:SIZES[:ENCODING[:STEPS]] or latency:SIZES"
    )


def model_spec(model: dict) -> str:
    """The canonical ``--model`` string of a parsed model."""
    if model["kind"] == "mlp":
        return f"mlp:{'-'.join(map(str, model['sizes']))}:{model['activation']}"
    if model["kind"] == "snn":
        sizes = "-".join(map(str, model["sizes"]))
        return f"snn:{sizes}:{model['encoding']}:{model['steps']}"
    if model["kind"] == "latency":
        return f"latency:{'-'.join(map(str, model['sizes']))}"
    return f"lenet:{model['activation']}"


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


def optimizer_spec(opt: dict) -> str:
    return ":".join([opt["name"], *(repr(float(a)) for a in opt["args"])])


def parse_rules(spec: str) -> list[str]:
    """Registry names from short names, labels or factory names, in order, without repeats."""
    from credax._src.registry import RULES, lookup

    names = [r.strip() for r in spec.split(",") if r.strip()]
    if not names:
        raise UsageError(f"no rule named in {spec!r}; choose from {', '.join(RULES)}")
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


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "credax"


def default_rules(model: dict | None = None) -> str:
    """The default rule list; for a ``model`` (parsed), only the rules that can train it (no
    chain-only rule on a conv net or a spiking network)."""
    from credax._src.registry import RULES

    def fits(e) -> bool:
        if model is None:
            return True
        if model["kind"] == "latency":  # most rules refuse first-spike-time layers
            return e.has("latency_only") or e.baseline
        if e.has("chain_only") and model["kind"] != "mlp":
            return False
        return not (e.has("spiking_only") or e.has("latency_only")) or (
            e.has("spiking_only") and model["kind"] == "snn"
        )

    return ",".join(n for n, e in RULES.items() if e.in_default_run and fits(e))


def make_parser() -> argparse.ArgumentParser:
    from credax._src.registry import RULES

    p = argparse.ArgumentParser(
        prog="credax",
        description="Biologically plausible credit assignment in JAX: compare learning rules "
        "over seeds.",
    )
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser(
        "run",
        help="compare rules on a dataset over seeds",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    settle = [n for n, e in RULES.items() if not e.in_default_run and e.task == "supervised"]
    other = [n for n, e in RULES.items() if not e.in_default_run and e.task != "supervised"]
    r.add_argument(
        "--rules",
        default=None,
        help="comma-separated short names, labels or factory names (credax list); default: every "
        "registered rule but "
        + (", ".join(settle) or "none")
        + " (variants, and rules that settle for many inner "
        "steps per update)" + (", and " + ", ".join(other) if other else "") + " (which learn "
        "without labels, under a readout or from a reward: compare them with --rules)",
    )
    r.add_argument("--dataset", default="mnist1d", help="mnist1d, fashion_mnist, teacher, ...")
    r.add_argument("--data-dir", default=None, help="directory of IDX files or a TFDS dataset")
    r.add_argument(
        "--model",
        default="mlp:40-256-256-10",
        help="mlp:SIZES[:ACT], lenet[:ACT] or snn:SIZES[:ENCODING[:STEPS]] (a spiking network: "
        "LIF hidden layers, dt 1 ms, tau_mem 10 ms, tau_syn 5 ms; ENCODING current (default), "
        "poisson or latency; STEPS 50 by default) or latency:SIZES (time-to-first-spike "
        "neurons, Mostafa 2017)",
    )
    r.add_argument("--seeds", type=int, default=8, help="init seeds")
    r.add_argument(
        "--draws",
        "--feedback-seeds",
        dest="draws",
        type=int,
        default=1,
        help="draws of each rule's key per seed (feedback matrices, noise streams)",
    )
    r.add_argument("--epochs", type=int, default=20, help="training epochs")
    r.add_argument("--batch-size", type=int, default=100, help="examples per step")
    r.add_argument(
        "--eval-every", type=int, default=None, help="steps between records (default: an epoch)"
    )
    r.add_argument("--optimizer", default="adam:1e-3", help="adam:LR, adamw:LR[:WD], sgd:LR[:MOM]")
    r.add_argument("--seed", type=int, default=0, help="the integer all keys are split from")
    r.add_argument(
        "--block", type=int, default=None, help="seeds per saved block (default: all seeds)"
    )
    r.add_argument(
        "--seed-block",
        default="auto",
        help="seeds vmapped together inside the program: N, all, or auto (by device and width)",
    )
    r.add_argument(
        "--diverge-factor",
        default="100",
        help="a seed diverged when its parameters turn non-finite or its training loss exceeds "
        "this multiple of max(|initial loss|, 1) (its weight norm, for rules without a loss); "
        "'none' checks finiteness only",
    )
    r.add_argument(
        "--precision",
        default=None,
        choices=("default", "high", "highest"),
        help="matmul precision of training (on GPUs the default float32 matmul is TF32); the "
        "records are computed at highest whatever this says (default: JAX's own setting)",
    )
    r.add_argument("--out", default="runs/latest", help="directory of results (resumable)")
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
    r.add_argument("--num-processes", type=int, default=None, help="processes (--distributed)")
    r.add_argument("--process-id", type=int, default=None, help="this process (--distributed)")
    ls = sub.add_parser("list", help="rules and datasets, with references")
    ls.add_argument(
        "names", nargs="*", help="rules to describe in full (short names, labels or factory names)"
    )
    return p


# --- the configuration ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of ``credax run``, checked and typed."""

    rules: tuple[str, ...]
    dataset: str
    data_dir: str | None
    model: dict
    seeds: int
    draws: int
    epochs: int
    batch_size: int
    eval_every: int | None
    optimizer: dict
    seed: int
    block: int
    seed_block: int | str | None
    diverge_factor: float | None
    precision: str | None
    out: Path
    cache_dir: Path | None
    distributed: bool
    coordinator: str | None
    num_processes: int | None
    process_id: int | None

    @property
    def n_blocks(self) -> int:
        return self.seeds // self.block

    def identity(self) -> dict:
        """The settings that change results (``RESULT_FIELDS``), as JSON values: what every
        saved block carries and a rerun must match."""
        values = {
            "dataset": self.dataset,
            "model": model_spec(self.model),
            "seeds": self.seeds,
            "draws": self.draws,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "optimizer": optimizer_spec(self.optimizer),
            "seed": self.seed,
            "block": self.block,
            "seed_block": self.seed_block,
            "diverge_factor": self.diverge_factor,
            "precision": self.precision,
        }
        assert tuple(values) == RESULT_FIELDS
        return {"format": IDENTITY_FORMAT, **values}


def _positive(args, flag: str) -> None:
    value = getattr(args, flag)
    if value < 1:
        fail(f"--{flag.replace('_', '-')} must be >= 1, got {value}")


def build_config(args: argparse.Namespace) -> RunConfig:
    """The run configuration from parsed arguments: everything checked that can be without JAX
    (a bad value exits with status 2 and one line)."""
    for flag in ("seeds", "draws", "epochs", "batch_size"):
        _positive(args, flag)
    if not -(2**63) <= args.seed < 2**63:
        fail(f"--seed must fit in 64 bits, got {args.seed}")
    block = args.block or args.seeds
    if args.block is not None and (args.block < 1 or args.seeds % args.block):
        fail(f"--block must be a positive divisor of --seeds {args.seeds}, got {args.block}")
    if args.eval_every is not None and args.eval_every < 1:
        fail(f"--eval-every must be a positive number of steps, got {args.eval_every}")
    process_flags = [
        f for f, v in (("--coordinator", args.coordinator), ("--num-processes", args.num_processes),
                       ("--process-id", args.process_id)) if v is not None
    ]  # fmt: skip
    if process_flags and not args.distributed:
        fail(f"{', '.join(process_flags)} are for runs across processes: add --distributed")
    if args.distributed:
        from credax._src.train._sweep import check_distributed

        try:
            check_distributed(args.coordinator, args.num_processes, args.process_id)
        except ValueError as e:
            fail(f"--distributed: {e} (--coordinator, --num-processes, --process-id)")
    if args.data_dir is not None and args.dataset in GENERATED:
        fail(f"--data-dir is not used by {args.dataset}, which is generated; drop it")
    try:
        model = parse_model(args.model)
        rules = parse_rules(default_rules(model) if args.rules is None else args.rules)
        check_chain_rules(rules, model, args.model)
        check_spiking_rules(rules, model, args.model)
        config = RunConfig(
            rules=tuple(rules),
            dataset=args.dataset,
            data_dir=args.data_dir,
            model=model,
            seeds=args.seeds,
            draws=args.draws,
            epochs=args.epochs,
            batch_size=args.batch_size,
            eval_every=args.eval_every,
            optimizer=parse_optimizer(args.optimizer),
            seed=args.seed,
            block=block,
            seed_block=parse_seed_block(args.seed_block),
            diverge_factor=parse_diverge(args.diverge_factor),
            precision=args.precision,
            out=Path(args.out),
            cache_dir=None if args.no_cache else Path(args.cache_dir or default_cache_dir()),
            distributed=args.distributed,
            coordinator=args.coordinator,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    except UsageError as e:
        fail(str(e))
    return config


def check_chain_rules(names: list[str], model: dict, spec: str) -> None:
    """Rules that move activities layer by layer need an MLP with a hidden layer."""
    from credax._src.registry import RULES

    chain = [n for n in names if RULES[n].has("chain_only")]
    if chain and (model["kind"] != "mlp" or len(model["sizes"]) < 3):
        raise UsageError(
            f"{', '.join(chain)} need{'s' if len(chain) == 1 else ''} a chain of dense layers "
            f"with a hidden layer (--model mlp:IN-HIDDEN-...-OUT), got --model {spec}"
        )
    rates = [n for n in names if RULES[n].has("nonnegative_rates")]
    if rates and model.get("activation") not in ("sigmoid", "relu"):
        raise UsageError(
            f"{', '.join(rates)} need{'s' if len(rates) == 1 else ''} nonnegative firing rates: "
            f"sigmoid (or relu) hidden units (--model mlp:SIZES:sigmoid), got --model {spec}"
        )


def check_spiking_rules(names: list[str], model: dict, spec: str) -> None:
    """Rules for spiking layers need a spiking network."""
    from credax._src.registry import RULES

    spiking = [n for n in names if RULES[n].has("spiking_only")]
    if spiking and model["kind"] != "snn":
        raise UsageError(
            f"{', '.join(spiking)} need{'s' if len(spiking) == 1 else ''} a spiking network "
            f"(--model snn:IN-HIDDEN-...-OUT[:ENCODING[:STEPS]]), got --model {spec}"
        )
    latency = [n for n in names if RULES[n].has("latency_only")]
    if latency and model["kind"] != "latency":
        raise UsageError(
            f"{', '.join(latency)} need{'s' if len(latency) == 1 else ''} a time-to-first-spike "
            f"network (--model latency:IN-HIDDEN-...-OUT), got --model {spec}"
        )
    # Spike-timing rules (unsupervised) read their first layer's input as spikes.
    timing = [n for n in spiking if RULES[n].task != "supervised"]
    if timing and model.get("encoding") == "current":
        raise UsageError(
            f"{', '.join(timing)} read{'s' if len(timing) == 1 else ''} input spikes: encode the "
            f"data as spikes (--model snn:...:poisson or :latency), got --model {spec}"
        )


def settings_diff(old: dict, new: dict) -> str:
    """The settings that differ, as ``--flag old -> new``."""
    keys = [k for k in dict.fromkeys([*new, *old]) if old.get(k) != new.get(k)]
    return ", ".join(f"--{k.replace('_', '-')} {old.get(k)!r} -> {new.get(k)!r}" for k in keys)
