"""Many seeds as one program: ``vmap`` over init seeds and rule-key draws, sharded over every
device of every process.

``sweep`` runs a :class:`~credax.train.Fit` over init seeds and, on a separate axis, over draws
of the rule's key (a feedback matrix for feedback-path rules, a noise stream for stochastic ones)
as one jitted program: ``vmap`` over seeds x draws (or ``lax.map`` in blocks of ``seed_block``
seeds), the seed axis sharded over every device of every process with ``shard_map``. Results
are arrays ``[seed, draw, record, ...]``. Any number of seeds runs on any number of devices:
the seed axis is padded to a multiple of the device count by repeating the last seed, and the
padding is dropped from the results.
"""

from __future__ import annotations

import functools
import inspect
import socket
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from credax._src.checks import as_key, check_count, check_flag
from credax._src.train._fit import Fit, FitResult


def sweep_keys(seed: int, n_seeds: int, n_draws: int = 1):
    """Keys of a sweep from one integer seed: ``init`` and ``data`` keys ``(n_seeds,)`` (one
    per init seed) and ``rule`` keys ``(n_draws,)`` (draws of the rule's key: feedback matrices,
    noise streams; shared by all seeds unless ``rule_key_per_seed``)."""
    n_seeds, n_draws = check_count("n_seeds", n_seeds), check_count("n_draws", n_draws)
    k_init, k_rule, k_data = jax.random.split(as_key(seed, "sweep seed"), 3)
    return (
        jax.random.split(k_init, n_seeds),
        jax.random.split(k_rule, n_draws),
        jax.random.split(k_data, n_seeds),
    )


def _shard_map():
    fn = getattr(jax, "shard_map", None)
    if fn is None:  # older JAX
        from jax.experimental.shard_map import shard_map as fn
    return fn


AUTO = "auto"


def choose_seed_block(fit: Fit, backend: str | None = None) -> int | None:
    """The seed batching that measured fastest (``benchmarks/throughput.py``, 2-core CPU): with a
    weight matrix of 500k entries or more (784-1000-1000-1000-10), one seed at a time inside the
    program (a vmapped batch of large matmuls loses the cache: 15.0k vs 8.1k samples·seeds/s at
    64 seeds); smaller networks in blocks of 8 seeds (431k vs 362k for 40-256-256-10 at 64 seeds,
    200k vs 159k for 784-256-256-10). On accelerators, all seeds at once."""
    backend = backend or jax.default_backend()
    if backend != "cpu":
        return None
    return 1 if getattr(fit, "max_weight_size", 0) >= 500_000 else 8


def seed_rule_key(rule_key: jax.Array, init_key: jax.Array) -> jax.Array:
    """A rule key of one init seed: ``rule_key`` with bits of the seed's ``init_key`` folded in,
    so that every (seed, draw) pair has its own key."""
    bits = jax.random.bits(jax.random.fold_in(init_key, 0x5EED), (), jnp.uint32)
    return jax.random.fold_in(rule_key, bits)


def _program_and_data(fit: Any) -> tuple[Callable, Any]:
    if isinstance(fit, Fit):
        return fit.program, fit.data
    if callable(fit):  # any run(init_key, rule_key, data_key)
        return _KeysOnly(fit), ()
    raise TypeError(f"expected a credax.train.Fit from make_fit, got {fit!r}")


class _KeysOnly:
    """``program(data, *keys)`` for a plain ``run(*keys)``; hashable by the wrapped function."""

    def __init__(self, run):
        self.run = run

    def __call__(self, data, *keys):
        return self.run(*keys)

    def __hash__(self):
        return hash(self.run)

    def __eq__(self, other):
        return isinstance(other, _KeysOnly) and other.run is self.run


def sweep_fn(
    fit: Fit,
    *,
    seed_block: int | str | None = AUTO,
    devices=None,
    rule_key_per_seed: bool = False,
) -> SweepProgram:
    """The jitted sweep of ``fit``: ``f(init_keys, rule_keys, data_keys) -> FitResult`` with axes
    ``[seed, draw, ...]``. The program is kept: a later call for the same ``fit`` and
    settings reuses it (and its compiled executables) instead of compiling again.

    Seeds and rule-key draws are flattened into one vmapped axis of ``seeds x draws`` runs
    (nested vmaps over a size-1 draw axis measured up to 1.4x slower on a CPU).

    Args:
        fit: from ``make_fit`` (or any ``run(init_key, rule_key, data_key)``).
        seed_block: seeds trained together by ``vmap`` on each device; blocks run one after
            another inside the program (``lax.map``). None: all of a device's seeds at once;
            ``"auto"``: ``choose_seed_block``.
        devices: devices to shard the seed axis over (default: every device of every process).
            Any number of seeds runs on any number of devices (padded, then dropped).
        rule_key_per_seed: by default every init seed shares the rule keys (one per draw):
            feedback-path rules then use the same ``B`` across seeds, and the spread over seeds
            and over draws are measured apart. For rules whose key drives noise (registry trait
            ``stochastic``), set it so that each seed gets its own stream (``seed_rule_key``).
    """
    devices = tuple(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("sweep_fn: expected at least one device")
    if seed_block == AUTO:
        seed_block = choose_seed_block(fit, devices[0].platform)
    elif seed_block is not None:
        seed_block = check_count("seed_block", seed_block)
    rule_key_per_seed = check_flag("rule_key_per_seed", rule_key_per_seed)
    program, data = _program_and_data(fit)
    return SweepProgram(
        _jitted_sweep(program, seed_block, devices, rule_key_per_seed), data, devices
    )


@functools.lru_cache(maxsize=64)
def _jitted_sweep(program, seed_block, devices, rule_key_per_seed):
    """One jitted sweep per (program, settings): kept, so that its compiled executables are."""

    def local(data, init_raw, rule_raw, data_raw, impl):
        init_keys, rule_keys, data_keys = (
            jax.random.wrap_key_data(k, impl=impl) for k in (init_raw, rule_raw, data_raw)
        )
        n_s, n_f = init_keys.shape[0], rule_keys.shape[0]
        if rule_key_per_seed:
            one = lambda i, r, d: program(data, i, seed_rule_key(r, i), d)  # noqa: E731
        else:
            one = lambda i, r, d: program(data, i, r, d)  # noqa: E731
        if n_f == 1:
            # One draw shared by every seed: the rule state stays unbatched, so e.g. the
            # error transport through B is one matmul over all seeds' examples.
            rk = rule_keys[0]
            if seed_block is None or seed_block >= n_s:
                out = jax.vmap(one, in_axes=(0, None, 0))(init_keys, rk, data_keys)
            else:
                out = jax.lax.map(
                    lambda k: one(k[0], rk, k[1]), (init_keys, data_keys), batch_size=seed_block
                )
            return jax.tree_util.tree_map(lambda a: a[:, None], out)
        s_idx = jnp.repeat(jnp.arange(n_s), n_f)
        f_idx = jnp.tile(jnp.arange(n_f), n_s)
        keys = (init_keys[s_idx], rule_keys[f_idx], data_keys[s_idx])
        if seed_block is None or seed_block >= n_s:
            out = jax.vmap(one)(*keys)
        else:
            out = jax.lax.map(lambda k: one(*k), keys, batch_size=int(seed_block) * n_f)
        return jax.tree_util.tree_map(lambda a: a.reshape(n_s, n_f, *a.shape[1:]), out)

    if len(devices) == 1:
        return jax.jit(local, static_argnums=4)
    from jax.sharding import Mesh, PartitionSpec

    mesh = Mesh(np.array(devices), ("seed",))
    spec, rep = PartitionSpec("seed"), PartitionSpec()
    smap = _shard_map()
    params = inspect.signature(smap).parameters
    # Each device's seeds are independent: no replication to check (the flag's name changed).
    check = {"check_vma": False} if "check_vma" in params else {"check_rep": False}

    def sharded(data, init_raw, rule_raw, data_raw, impl):
        body = functools.partial(local, impl=impl)
        return smap(body, mesh=mesh, in_specs=(rep, spec, rep, spec), out_specs=spec, **check)(
            data, init_raw, rule_raw, data_raw
        )

    return jax.jit(sharded, static_argnums=4)


class SweepProgram:
    """A sweep with its data bound: ``f(init_keys, rule_keys, data_keys) -> FitResult`` with axes
    ``[seed, draw, ...]`` (see ``sweep_fn``). ``compile(*keys)`` compiles it ahead of time for
    keys of those shapes; calls with such keys then run the compiled executable.

    Across processes (after ``jax.distributed.initialize``, see ``initialize_distributed``) the
    devices are those of every process: each process runs its share of the seeds, and every
    process gets the whole result as NumPy arrays. On ``jax.local_devices()`` alone, each process
    runs the whole sweep by itself.
    """

    def __init__(self, jitted, data, devices):
        self._jitted, self._data, self.devices = jitted, data, devices
        self._compiled: dict = {}

    def _inputs(self, init_keys, rule_keys, data_keys):
        keys = [as_key(k, "sweep keys") for k in (init_keys, rule_keys, data_keys)]
        for k in keys:
            if not jnp.issubdtype(k.dtype, jax.dtypes.prng_key):
                raise TypeError("sweep keys must be typed PRNG keys (jax.random.key), batched")
            if k.ndim != 1:
                raise ValueError(f"expected a 1-d array of keys per argument, got shape {k.shape}")
        if init_keys.shape != data_keys.shape:
            raise ValueError(
                f"expected as many data keys as init keys, got {data_keys.shape[0]} and "
                f"{init_keys.shape[0]}"
            )
        impl = str(jax.random.key_impl(keys[0]))
        raw = [jax.random.key_data(k) for k in keys]
        n = raw[0].shape[0]
        pad = (-n) % len(self.devices)
        if pad:  # pad the seed axis to the device count by repeating the last seed
            for i in (0, 2):
                raw[i] = jnp.concatenate([raw[i], jnp.repeat(raw[i][-1:], pad, axis=0)])
        data = self._data
        if _spans_processes(self.devices):
            data, raw = _global_inputs(self.devices, data, raw)
        return data, raw, impl, pad

    def lower(self, init_keys, rule_keys, data_keys):
        """The program lowered for keys of these shapes, for inspection (``.as_text()``,
        ``.cost_analysis()``); to run it, call this ``SweepProgram``."""
        data, raw, impl, _ = self._inputs(init_keys, rule_keys, data_keys)
        return self._jitted.lower(data, *raw, impl)

    def executable(self, init_keys, rule_keys, data_keys):
        """The compiled executable for keys of these shapes (compiling it if needed), for
        inspection (``.as_text()``, ``.memory_analysis()``, ``.cost_analysis()``); to run it,
        call this ``SweepProgram``."""
        data, raw, impl, _ = self._inputs(init_keys, rule_keys, data_keys)
        sig = (impl, *(r.shape for r in raw))
        if sig not in self._compiled:
            self._compiled[sig] = self._jitted.lower(data, *raw, impl).compile()
        return self._compiled[sig]

    def compile(self, init_keys, rule_keys, data_keys) -> SweepProgram:
        """Compiles the sweep for keys of these shapes (without running it); returns ``self``."""
        self.executable(init_keys, rule_keys, data_keys)
        return self

    def __call__(self, init_keys, rule_keys, data_keys) -> FitResult:
        data, raw, impl, pad = self._inputs(init_keys, rule_keys, data_keys)
        sig = (impl, *(r.shape for r in raw))
        compiled = self._compiled.get(sig)
        out = compiled(data, *raw) if compiled is not None else self._jitted(data, *raw, impl)
        if _spans_processes(self.devices):  # each process holds its seeds' shards: gather
            from jax.experimental import multihost_utils

            out = multihost_utils.process_allgather(out, tiled=True)
        if pad:
            out = jax.tree_util.tree_map(lambda a: a[: a.shape[0] - pad], out)
        return out


def _spans_processes(devices) -> bool:
    """Whether ``devices`` include another process's: a sweep across processes, with global
    inputs and a gathered output. On this process's devices alone (``jax.local_devices()``) each
    process runs the whole sweep by itself, as with one process."""
    if jax.process_count() == 1:
        return False
    mine = jax.process_index()
    return any(d.process_index != mine for d in devices)


def _global_inputs(devices, data, raw):
    """Global arrays over ``devices`` (all processes): data replicated, keys split by seed."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    if not any(d.process_index == jax.process_index() for d in devices):
        raise ValueError(
            f"a sweep across processes runs in every process of its devices; process "
            f"{jax.process_index()} has none of {list(devices)} (pass the same devices in every "
            "process, e.g. the default jax.devices())"
        )
    mesh = Mesh(np.array(devices), ("seed",))

    def put(a, spec):
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, NamedSharding(mesh, spec), lambda i: a[i])

    data = jax.tree_util.tree_map(lambda a: put(a, PartitionSpec()), data)
    specs = (PartitionSpec("seed"), PartitionSpec(), PartitionSpec("seed"))
    return data, [put(r, s) for r, s in zip(raw, specs)]


def sweep(
    fit: Fit,
    seed: int,
    n_seeds: int,
    *,
    n_draws: int | None = None,
    seed_block: int | str | None = AUTO,
    devices=None,
    rule_key_per_seed: bool = False,
) -> FitResult:
    """Runs ``fit`` for ``n_seeds`` init seeds (and ``n_draws`` draws of the rule's key) as one
    jitted program, kept for later calls with the same ``fit`` and settings. Returns a
    ``FitResult`` of NumPy arrays with leading axes ``[seed]`` (or ``[seed, draw]`` when
    ``n_draws`` is given). Any ``n_seeds`` runs on any number of devices (see ``sweep_fn``).
    """
    keys = sweep_keys(seed, n_seeds, 1 if n_draws is None else n_draws)
    fn = sweep_fn(fit, seed_block=seed_block, devices=devices, rule_key_per_seed=rule_key_per_seed)
    out = jax.device_get(fn(*keys))
    if n_draws is None:
        out = jax.tree_util.tree_map(lambda a: a[:, 0], out)
    return out


def check_distributed(
    coordinator_address: str | None, num_processes: int | None, process_id: int | None
) -> None:
    """The arguments of ``initialize_distributed``, checked before JAX sees them: all three or
    none; ``"host:port"`` with a host that resolves; ``0 <= process_id < num_processes``."""
    given = [v is not None for v in (coordinator_address, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError(
            "expected the coordinator (host:port), the number of processes and this process's id "
            "together (on CPUs all three; on a TPU slice or GPU cluster none)"
        )
    if not any(given):
        return
    if not isinstance(coordinator_address, str) or coordinator_address.count(":") < 1:
        raise ValueError(f"expected the coordinator as host:port, got {coordinator_address!r}")
    host, _, port = coordinator_address.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected the coordinator's port to be 1-65535, got {port!r}")
    try:
        socket.getaddrinfo(host.strip("[]"), int(port))
    except OSError as e:
        raise ValueError(f"cannot resolve the coordinator's host {host!r} ({e})") from None
    for name, value, low in (("num_processes", num_processes, 1), ("process_id", process_id, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"expected {name} to be an int >= {low}, got {value!r}")
    if process_id >= num_processes:
        raise ValueError(
            f"expected process_id in [0, {num_processes}) for {num_processes} processes, got "
            f"{process_id}"
        )


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs,
) -> None:
    """``jax.distributed.initialize`` for sweeps across processes, with the CPU's collectives
    (gloo) switched on first, as CPU processes need. On a TPU slice or a GPU cluster, call it with
    no arguments on every host (JAX finds the others); on CPUs, name the coordinator
    (``"host:port"``), the number of processes and this process's id. Then every process runs
    the same ``sweep``: the seed axis is sharded over the devices of all processes.

    Raises:
        ValueError: the arguments do not fit together (checked before JAX starts), or JAX could
            not start the processes (its reason in one line: on CPUs without a coordinator, say).
    """
    check_distributed(coordinator_address, num_processes, process_id)
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # pragma: no cover - an older or newer JAX without the option
        pass
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator_address,
            num_processes=num_processes,
            process_id=process_id,
            **kwargs,
        )
    except (ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(
            f"jax.distributed could not start: {first}"
            + (
                "; on CPUs name the coordinator (host:port), the number of processes and this "
                "process's id"
                if coordinator_address is None
                else ""
            )
        ) from None
