"""A sweep across processes: the two-process demo of ``credax.train.sweep`` with
``jax.distributed`` (CPU collectives, gloo), and its one-process reference.

Run the same command in every process, each with its own ``--process-id``::

    export JAX_PLATFORMS=cpu XLA_FLAGS=--xla_force_host_platform_device_count=1
    python scripts/multihost_sweep.py --coordinator 127.0.0.1:12355 --num-processes 2 \
        --process-id 0 --seeds 4 3 --out multi.npz &
    python scripts/multihost_sweep.py --coordinator 127.0.0.1:12355 --num-processes 2 \
        --process-id 1 --seeds 4 3 --out multi.npz
    python scripts/multihost_sweep.py --single --seeds 4 3 --out single.npz

Each process runs its share of the seeds (the seed axis is sharded over the devices of all
processes); every process gets the whole result, and process 0 alone writes ``--out``: the
history records (``{N}seeds/history/NAME``), ``{N}seeds/diverged_step`` and the final
parameter leaves (``{N}seeds/params/I``), each with leading axes ``[seed, draw]``, for each
seed count ``N`` of ``--seeds`` (an odd count over two processes is padded, then dropped).
``tests/test_distributed.py`` compares the two files.
"""

from __future__ import annotations

import argparse
import sys
import time


def build_fit():
    """A tiny FA sweep: an MLP 6-8-3 on synthetic data, 2 epochs."""
    import jax.numpy as jnp
    import numpy as np
    import optax

    import credax

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = x[:, :3].argmax(1).astype(np.int32)
    loss = credax.losses.softmax_cross_entropy
    return credax.train.make_fit(
        credax.feedback_alignment(loss),
        lambda k: credax.nets.mlp([6, 8, 3], activation=jnp.tanh, key=k),
        optax.adam(1e-2),
        loss=loss,
        train=(x, y),
        test=(x[:32], y[:32]),
        epochs=2,
        batch_size=16,
        probe_size=16,
    )


def arrays(result) -> dict:
    """The result as flat NumPy arrays for ``np.savez``."""
    import jax
    import numpy as np

    out = {f"history/{k}": np.asarray(v) for k, v in result.history.items()}
    out["diverged_step"] = np.asarray(result.diverged_step)
    for i, leaf in enumerate(jax.tree_util.tree_leaves(result.params)):
        out[f"params/{i}"] = np.asarray(leaf)
    return out


def check_args(args) -> str | None:
    """What is wrong with the arguments, in one line, before any work (None if nothing)."""
    import os
    import tempfile

    process = [f for f in ("coordinator", "num_processes", "process_id") if getattr(args, f)
               is not None]  # fmt: skip
    if args.single and process:
        return f"--single runs one process; drop --{process[0].replace('_', '-')}"
    if not args.single:
        from credax._src.train._sweep import check_distributed

        try:
            check_distributed(args.coordinator, args.num_processes, args.process_id)
        except ValueError as e:
            return f"{e} (--coordinator, --num-processes, --process-id; or --single)"
    if any(n < 1 for n in args.seeds):
        return f"--seeds must be positive counts, got {args.seeds}"
    if args.draws < 1:
        return f"--draws must be >= 1, got {args.draws}"
    folder = os.path.dirname(os.path.abspath(args.out))
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        return f"--out {args.out}: its folder is not writable ({e.strerror or e})"
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--single", action="store_true", help="one process, no jax.distributed")
    p.add_argument("--coordinator", default=None, help="host:port of process 0")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[4], help="seed counts, one sweep each")
    p.add_argument("--draws", type=int, default=2, help="draws of the rule key per seed")
    p.add_argument(
        "--aot",
        action="store_true",
        help="also run each sweep compiled ahead of time (sweep_fn(...).compile, as `credax run` "
        "does), saved as {N}seeds_aot/...",
    )
    p.add_argument("--out", required=True, help="the .npz that process 0 writes")
    args = p.parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"multihost_sweep: error: {problem}", file=sys.stderr)
        return 2

    import jax

    import credax

    if not args.single:  # before anything else touches JAX's backends
        try:
            credax.train.initialize_distributed(
                args.coordinator, args.num_processes, args.process_id
            )
        except ValueError as e:
            print(f"multihost_sweep: error: {e}", file=sys.stderr)
            return 2
    fit = build_fit()
    found = {}
    for n in args.seeds:
        t0 = time.perf_counter()
        res = credax.train.sweep(fit, 0, n, n_draws=args.draws)
        dt = time.perf_counter() - t0
        print(
            f"process {jax.process_index()}/{jax.process_count()}: {n} seeds x {args.draws} "
            f"draws on {jax.device_count()} devices ({jax.local_device_count()} local) in "
            f"{dt:.1f}s; final test_loss of draw 0: {res.history['test_loss'][:, 0, -1]}",
            file=sys.stderr,
            flush=True,
        )
        found.update({f"{n}seeds/{k}": v for k, v in arrays(res).items()})
        if args.aot:
            keys = credax.train.sweep_keys(0, n, args.draws)
            res = jax.device_get(credax.train.sweep_fn(fit).compile(*keys)(*keys))
            found.update({f"{n}seeds_aot/{k}": v for k, v in arrays(res).items()})
    if jax.process_index() == 0:  # every process has the whole result; one writes it
        import numpy as np

        np.savez(args.out, **found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
