"""The commands: ``credax run`` (compare rules over seeds, resumable) and ``credax list``.

Every argument is checked before anything is compiled; a bad one exits with status 2 and one line
naming what was expected. Each finished (rule, seed block) is written to ``--out`` at once and
atomically, with the identity of the settings it was made with, so rerunning the same command
resumes where it stopped; a block that cannot be read back is recomputed, and blocks made with
other settings are never reused. How a rule is trained and evaluated is its task's protocol
(``credax.tasks``): the command asks the registry for the rule's task, never for its family.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import sys
import time

import numpy as np

from credax._src.cli._config import (
    FLAG_NAMES,
    RunConfig,
    UsageError,
    build_config,
    fail,
    parse_rules,
    settings_diff,
)
from credax._src.cli._files import (
    block_path,
    check_out_dir,
    read_block,
    read_json,
    try_load_rule,
    write_json,
    write_npz,
)
from credax._src.cli._plots import plot
from credax._src.cli._report import Progress, print_table, summarise

# --- credax list --------------------------------------------------------------------------------


def cmd_list(names: list[str] | None = None) -> None:
    from credax._src.data import DESCRIPTIONS
    from credax._src.registry import FAMILIES, RULES, TRAITS

    if names:
        if not any(n.strip() for n in names):
            fail(f"credax list: expected rule names, got {names!r}; try credax list")
        try:
            entries = [RULES[n] for n in parse_rules(",".join(names))]
        except UsageError as e:
            fail(str(e))
        for e in entries:
            doc = (e.factory.__doc__ or "").strip().splitlines()[0]
            options = ", ".join(f"{k}={v!r}" for k, v in e.options.items())
            print(f"{e.name} ({e.label}): {e.factory_name}({options})")
            print(f"  {doc}")
            print(f"  family {e.family}, task {e.task}; {e.description} ({e.reference})")
            print(f"  records: {', '.join(e.diagnostics) or '(its task evaluation only)'}")
            traits = [t for t in TRAITS if t in e.traits]
            print(f"  traits: {', '.join(traits) or 'none'}" + ("; baseline" if e.baseline else ""))
        return

    for fam in FAMILIES.values():
        members = [(n, e) for n, e in RULES.items() if e.family == fam.name]
        if not members:
            continue
        print(f"rules ({fam.name}: {fam.description}):")
        w = max(len(n) for n, _ in members)
        lw = max(len(e.label) for _, e in members)
        factories = []
        for _, e in members:
            variant = ", ".join(f"{k}={v}" for k, v in e.options.items())
            factories.append(f"{e.factory_name}({variant})" if variant else e.factory_name)
        fw = max(len(f) for f in factories)
        for (name, e), factory in zip(members, factories):
            task = "" if e.task == "supervised" else f" [{e.task}]"
            print(
                f"  {name:{w}s}  {e.label:{lw}s}  {factory:{fw}s}  {e.description}{task} "
                f"({e.reference})"
            )
    print("datasets:")
    for name, d in DESCRIPTIONS.items():
        print(f"  {name:14s} {d}")


# --- credax run: setup --------------------------------------------------------------------------


def configure_jax(config: RunConfig) -> None:
    """XLA and cache settings, before JAX starts its backend."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        # LLVM -O2 instead of -O3: about 25% less compile time for these programs, and training
        # measured as fast (2-core CPU); a user's own XLA_FLAGS take precedence.
        os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=2").strip()
    import jax

    if config.distributed:
        from credax._src.train._sweep import initialize_distributed

        try:
            initialize_distributed(config.coordinator, config.num_processes, config.process_id)
        except ValueError as e:
            fail(f"--distributed: {e}")
    if config.cache_dir is None:
        return
    try:
        (config.cache_dir / "jax").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        fail(
            f"--cache-dir {config.cache_dir} cannot be created ({e.strerror or e}); use --no-cache"
        )
    jax.config.update("jax_compilation_cache_dir", str(config.cache_dir / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def load_data(config: RunConfig):
    from credax._src import data

    try:
        kw = {"data_dir": config.data_dir}
        if config.dataset == "mnist1d" and config.cache_dir is not None:
            kw["cache_dir"] = config.cache_dir / "data"
        xtr, ytr = data.load(config.dataset, "train", **kw)
        xte, yte = data.load(config.dataset, "test", **kw)
    except (ValueError, FileNotFoundError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "unknown dataset" in msg:
            msg = f"unknown dataset {config.dataset!r}; choose from {', '.join(data.DESCRIPTIONS)}"
        fail(msg)
    return xtr, ytr, xte, yte


def check_compatible(model: dict, x_shape: tuple, y: np.ndarray, dataset: str) -> tuple:
    """Checks model against data; returns the per-example input shape the model gets."""
    regression = y.ndim == 2
    n_out = y.shape[1] if regression else int(y.max()) + 1
    if model["kind"] in ("mlp", "snn", "latency"):
        n_in = math.prod(x_shape)
        if model["sizes"][0] != n_in:
            raise UsageError(
                f"model input {model['sizes'][0]} does not match {dataset} examples of shape "
                f"{x_shape} ({n_in} values); use {model['kind']}:{n_in}-..."
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


def build_optimizer(cfg: dict):
    import optax

    lr, *rest = cfg["args"]
    if cfg["name"] == "adam":
        return optax.adam(lr)
    if cfg["name"] == "adamw":
        return optax.adamw(lr, weight_decay=rest[0] if rest else 1e-4)
    return optax.sgd(lr, momentum=rest[0] if rest else None)


def build_model(cfg: dict, in_shape: tuple[int, ...], data_range: tuple[float, float] = (0, 1)):
    """``init_model(key)`` of the parsed ``--model``; a spiking network's encoder scales its
    inputs by ``data_range`` (the training set's minimum and maximum)."""
    import jax
    import jax.numpy as jnp

    from credax._src.nets import _build
    from credax._src.nets._layer import identity

    if cfg["kind"] == "latency":
        from credax._src.spiking import _latency

        lo, hi = data_range
        enc = _latency.LatencyEncode(lo=lo, hi=hi if hi > lo else lo + 1.0)
        return lambda key: _latency.latency_network(cfg["sizes"], key=key, encode=enc)
    if cfg["kind"] == "snn":
        from credax._src.cli._config import SNN_MAX_RATE, SNN_READOUT_SCALE, SNN_WEIGHT_SCALE
        from credax._src.spiking import _encode

        lo, hi = data_range
        enc = _encode.Encode(
            cfg["encoding"], cfg["steps"], lo=lo, hi=hi if hi > lo else lo + 1.0,
            max_rate=SNN_MAX_RATE,
        )  # fmt: skip
        return lambda key: _encode.network(
            cfg["sizes"],
            cfg["steps"],
            key=key,
            encode=enc,
            weight_scale=SNN_WEIGHT_SCALE,
            readout_scale=SNN_READOUT_SCALE,
        )

    act = {
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "sigmoid": jax.nn.sigmoid,
        "identity": identity,
    }[cfg["activation"]]
    if cfg["kind"] == "mlp":
        return lambda key: _build.mlp(cfg["sizes"], activation=act, key=key)
    return lambda key: _build.lenet(key=key, in_shape=in_shape, activation=act)


class Experiment:
    """The data, model, optimizer and loss of a run, prepared and checked."""

    def __init__(self, config: RunConfig):
        from credax._src import data, losses
        from credax._src.tasks import TASKS
        from credax._src.train._schedule import make_schedule

        xtr, ytr, xte, yte = load_data(config)
        try:
            in_shape = check_compatible(config.model, xtr.shape[1:], ytr, config.dataset)
        except UsageError as e:
            fail(str(e))
        if config.model["kind"] in ("mlp", "snn", "latency"):
            xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
        elif in_shape[1:] != xtr.shape[2:]:
            xtr, xte = data._pad(xtr, in_shape[1]), data._pad(xte, in_shape[1])
        self.regression = ytr.ndim == 2
        self.loss = losses.mse if self.regression else losses.softmax_cross_entropy
        data_range = (float(np.min(xtr)), float(np.max(xtr)))
        self.init_model = build_model(config.model, in_shape, data_range)
        self.optimizer = build_optimizer(config.optimizer)
        self.train, self.test = (xtr, ytr), (xte, yte)
        try:
            for name, split in (("train", self.train), ("test", self.test)):
                TASKS["supervised"].check_data(self.init_model, name, split, self.loss)
            self.schedule = make_schedule(
                n_examples=len(xtr),
                batch_size=config.batch_size,
                epochs=config.epochs,
                eval_every=config.eval_every,
                names=FLAG_NAMES,
            )
        except (ValueError, TypeError) as e:
            fail(f"{config.dataset}: {e}")

    def sweep(self, config: RunConfig, name: str):
        """The compiled-on-demand sweep of rule ``name``, as its task's protocol trains it."""
        from credax._src.registry import RULES
        from credax._src.tasks import TASKS
        from credax._src.train._fit import make_fit
        from credax._src.train._sweep import sweep_fn

        entry = RULES[name]
        task = TASKS[entry.task]
        try:
            rule = entry.make(self.loss if task.takes_loss else None)
            rule, evaluate = task.protocol(
                rule, loss=self.loss, classification=not self.regression, angles=True
            )
            fit = make_fit(
                rule,
                self.init_model,
                self.optimizer,
                loss=self.loss,
                evaluate=evaluate,
                train=self.train,
                test=self.test,
                epochs=config.epochs,
                batch_size=config.batch_size,
                eval_every=self.schedule.eval_every,
                diverge_factor=config.diverge_factor,
                precision=config.precision,
            )
        except (ValueError, TypeError) as e:
            fail(f"{name}: {e}")
        # Rules whose key drives fresh noise get one stream per seed; feedback-path rules share
        # each draw across seeds (--draws draws them).
        return sweep_fn(
            fit, seed_block=config.seed_block, rule_key_per_seed=entry.has("stochastic")
        )


# --- credax run: resume, train, report ------------------------------------------------------------


def check_previous_run(config: RunConfig) -> None:
    """An ``--out`` holding a run with other settings is refused, naming them."""
    old = read_json(config.out / "config.json")
    if old is not None and old != config.identity():
        fail(
            f"{config.out} holds a run with other settings "
            f"({settings_diff(old, config.identity())}); use another --out or remove it"
        )


def blocks_to_compute(config: RunConfig, progress: Progress) -> dict[str, list[int]]:
    """Per rule, the seed blocks that are missing or damaged (saying so); blocks made with other
    settings end the run."""
    import jax

    identity, shape = config.identity(), (config.block, config.draws)
    todo: dict[str, list[int]] = {}
    for name in config.rules:
        todo[name] = []
        for b in range(config.n_blocks):
            path = block_path(config.out, name, b)
            if not path.exists():
                todo[name].append(b)
                continue
            arrays, problem = read_block(path, identity, shape)
            if problem == "settings":
                fail(
                    f"{path} was made with other settings "
                    f"({settings_diff(arrays['settings'], identity)}); use another --out or "
                    "remove it"
                )
            if problem:
                progress.note(f"credax: {path} is {problem}; recomputing it")
                todo[name].append(b)
    if jax.process_count() > 1:  # every process runs the same programs: process 0 decides
        from jax.experimental import multihost_utils

        n = config.n_blocks
        flags = np.array([[b in todo[r] for b in range(n)] for r in config.rules], np.int32)
        flags = np.asarray(multihost_utils.broadcast_one_to_all(flags))
        todo = {r: [b for b in range(n) if flags[i, b]] for i, r in enumerate(config.rules)}
    return todo


def train_rules(config, experiment, todo, progress, main_process) -> dict[str, dict]:
    """Trains every (rule, block) to compute, saving each block as it finishes; compiles the
    next rules in the background meanwhile. Returns each rule's compile and train seconds."""
    import jax

    from credax._src.train._sweep import sweep_keys

    keys = sweep_keys(config.seed, config.seeds, config.draws)
    identity = config.identity()

    def blocks(b):
        lo, hi = b * config.block, (b + 1) * config.block
        return keys[0][lo:hi], keys[1], keys[2][lo:hi]

    plans = {name: experiment.sweep(config, name) for name in config.rules if todo[name]}

    def compile_program(fn, b):
        t0 = time.perf_counter()
        fn.compile(*blocks(b))
        return time.perf_counter() - t0

    timing: dict[str, dict] = {}
    # Programs compile in the background, ahead of the rule being trained, each on a core of its
    # own: on a CPU the cores are shared with training (one compiler beside it on a 2-core
    # machine: 1.08x the training time, measured), on an accelerator the host's cores are free
    # for compilers (programs compile independently).
    cores = os.cpu_count() or 1
    if jax.default_backend() == "cpu":
        workers = max(1, min(2, cores - 1))
    else:
        workers = max(1, min(len(plans), cores - 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {n: pool.submit(compile_program, fn, todo[n][0]) for n, fn in plans.items()}
        for name in config.rules:
            done = config.n_blocks - len(todo[name])
            if done:
                progress.done += done
                progress.show(f"{name}: {done} block(s) done earlier, skipped")
            if not todo[name]:
                continue
            progress.show(f"{name}: compiling")
            compile_s, train_s = futures[name].result(), 0.0
            for b in todo[name]:
                progress.show(f"{name}: training block {b + 1}/{config.n_blocks}")
                t0 = time.perf_counter()
                res = jax.device_get(plans[name](*blocks(b)))
                train_s += time.perf_counter() - t0
                if main_process:
                    arrays = {f"history_{k}": np.asarray(v) for k, v in res.history.items()}
                    arrays["diverged_step"] = np.asarray(res.diverged_step)
                    arrays["settings"] = np.array(__import__("json").dumps(identity))
                    write_npz(block_path(config.out, name, b), arrays)
                progress.step(f"{name}: block {b + 1}/{config.n_blocks} saved")
            timing[name] = {"compile_s": compile_s, "train_s": train_s}
    return timing


def report(config: RunConfig, experiment: Experiment, timing: dict[str, dict]) -> None:
    """Summary, table and plots from what is on disk; rules of earlier runs into this --out
    that this run did not ask for are kept, with the times of the run that made them."""
    from credax._src.registry import RULES

    identity, shape = config.identity(), (config.block, config.draws)
    previous = read_json(config.out / "summary.json")
    previous = (
        previous.get("rules", {})
        if isinstance(previous, dict) and previous.get("config") == identity
        else {}
    )
    results, summary = {}, {}
    names = list(config.rules) + [n for n in previous if n not in config.rules and n in RULES]
    for name in names:
        loaded = try_load_rule(config.out, name, config.n_blocks, identity, shape)
        if loaded is None:
            if name in config.rules:
                fail(
                    f"{config.out / name}: a block written in this run cannot be read back; "
                    "rerun to recompute it"
                )
            continue
        results[name] = loaded
        old = previous.get(name, {})
        summary[name] = timing.get(
            name, {k: float(old.get(k, 0.0) or 0.0) for k in ("compile_s", "train_s")}
        )
        summary[name].update(summarise(loaded, experiment.regression))
        summary[name].update(
            label=RULES[name].label, family=RULES[name].family, task=RULES[name].task
        )
    order = [n for n in RULES if n in results]
    summary = {n: summary[n] for n in order}
    results = {n: results[n] for n in order}
    payload = {"config": identity, "eval_steps": list(experiment.schedule.eval_steps)}
    write_json(config.out / "summary.json", {**payload, "rules": summary})
    print_table(summary, experiment.regression)
    written = plot(results, experiment.schedule.eval_steps, experiment.regression, config.out)
    print(f"wrote {config.out / 'summary.json'}, {', '.join(str(config.out / w) for w in written)}")


def check_out_layout(config: RunConfig) -> None:
    """Files of an earlier run that stand where folders must be, or folders where files must."""
    out = config.out
    for name in ("config.json", "summary.json", "curves.png", "angles.png"):
        if (out / name).exists() and not (out / name).is_file():
            fail(f"{out / name} is not a file; remove it or use another --out")
    for rule in config.rules:
        folder = out / rule
        if folder.exists() and not folder.is_dir():
            fail(f"{folder} is not a folder (it holds rule {rule}'s blocks); remove it")
        for b in range(config.n_blocks):
            path = block_path(out, rule, b)
            if path.exists() and not path.is_file():
                fail(f"{path} is not a file; remove it or use another --out")


def saved_blocks(config: RunConfig) -> int:
    return sum(
        block_path(config.out, r, b).is_file() for r in config.rules for b in range(config.n_blocks)
    )


def cmd_run(args) -> int:
    # 1. Everything that can be checked without JAX work, the output directory included.
    config = build_config(args)
    check_previous_run(config)
    check_out_dir(config.out)
    check_out_layout(config)
    try:
        return run(config)
    except KeyboardInterrupt:
        print(
            f"\ncredax: interrupted; {saved_blocks(config)} of "
            f"{len(config.rules) * config.n_blocks} blocks are saved in {config.out}; run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return 130


def run(config: RunConfig) -> int:

    # 2. JAX, data and the checks that need them; each rule's program, built and checked.
    configure_jax(config)
    import jax

    main_process = jax.process_index() == 0
    experiment = Experiment(config)

    # 3. Resume: which blocks are done (verified), which must be (re)computed.
    progress = Progress(len(config.rules) * config.n_blocks, quiet=not main_process)
    todo = blocks_to_compute(config, progress)
    if main_process:
        write_json(config.out / "config.json", config.identity())
        print(
            f"credax: {len(config.rules)} rules x {config.seeds} seeds x {config.draws} draws on "
            f"{config.dataset} ({config.model['kind']}), {config.epochs} epochs, "
            f"{jax.device_count()} {jax.default_backend()} device(s)"
            f"{'' if jax.process_count() == 1 else f' in {jax.process_count()} processes'}; "
            f"writing {config.out}"
        )

    # 4. Training: one compiled program per rule, reused for every seed block.
    timing = train_rules(config, experiment, todo, progress, main_process)
    progress.close()
    if main_process:
        report(config, experiment, timing)
    return 0


def main(argv: list[str] | None = None) -> int:
    from credax._src.cli._config import make_parser

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
