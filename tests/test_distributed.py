"""Sweeps across processes: two processes with ``jax.distributed`` (CPU collectives, gloo), one
CPU device each, give the numbers of the one-process sweep (``scripts/multihost_sweep.py``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "multihost_sweep.py"
TIMEOUT = 240  # seconds for the processes together


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    """CPU only, exactly one device per process (the suite's other XLA flags kept)."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "host_platform_device_count" not in f]
    env["XLA_FLAGS"] = " ".join([*flags, "--xla_force_host_platform_device_count=1"])
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _run_together(commands: dict, tmp_path: Path) -> dict:
    """Starts every command at once and waits for all, killing the rest when one fails or all
    past ``TIMEOUT``; returns each one's output. Fails, showing every output, if one exits
    non-zero or time runs out."""
    env, procs, logs = _env(), {}, {}
    for name, args in commands.items():
        logs[name] = open(tmp_path / f"{name}.log", "w+")
        procs[name] = subprocess.Popen(
            [sys.executable, str(SCRIPT), *args],
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    deadline, timed_out = time.monotonic() + TIMEOUT, False
    try:  # until all have exited, one has failed (the others would wait for it) or time is up
        while True:
            codes = [p.poll() for p in procs.values()]
            if all(c is not None for c in codes) or any(codes):
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.2)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    out = {}
    for name, f in logs.items():
        f.seek(0)
        out[name] = f.read()
        f.close()
    failed = timed_out or any(p.returncode != 0 for p in procs.values())
    if failed:
        report = "\n".join(
            f"--- {name} (exit {procs[name].returncode}) ---\n{text[-3000:]}"
            for name, text in out.items()
        )
        raise AssertionError(
            (f"timed out after {TIMEOUT}s\n" if timed_out else "a process failed\n") + report
        )
    return out


def test_two_process_sweep_equals_one_process(tmp_path):
    """4 seeds (2 per process) and 3 seeds (padded to 4), through ``sweep`` and through a
    sweep compiled ahead of time: every record, the divergence steps and the final parameters
    of process 0's gathered result equal the one-process sweep's."""
    seeds = ["--seeds", "4", "3", "--aot"]
    coord = ["--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes", "2"]
    logs = _run_together(
        {
            "process0": [*coord, "--process-id", "0", *seeds, "--out", "multi.npz"],
            "process1": [*coord, "--process-id", "1", *seeds, "--out", "multi.npz"],
            "single": ["--single", *seeds, "--out", "single.npz"],
        },
        tmp_path,
    )
    assert "on 2 devices (1 local)" in logs["process1"], logs["process1"]
    assert "on 1 devices (1 local)" in logs["single"], logs["single"]
    multi, single = np.load(tmp_path / "multi.npz"), np.load(tmp_path / "single.npz")
    assert sorted(multi) == sorted(single)
    for n in (4, 3):
        for part in ("seeds", "seeds_aot"):
            for rec in ("test_loss", "train_loss", "finite", "feedback_angles"):
                assert f"{n}{part}/history/{rec}" in multi
            assert multi[f"{n}{part}/diverged_step"].shape == (n, 2)
    for name in single:
        a, b = multi[name], single[name]
        assert a.shape == b.shape and a.dtype == b.dtype, (name, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=name)


import pytest  # noqa: E402


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--single", "--process-id", "0"], "--single runs one process; drop --process-id"),
        ([], "jax.distributed could not start"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2"], "together"),
        (
            ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"],
            "expected process_id in [0, 2)",
        ),
        (
            ["--coordinator", "nohost.invalid:1", "--num-processes", "2", "--process-id", "0"],
            "cannot resolve the coordinator's host",
        ),
        (["--single", "--seeds", "0"], "--seeds must be positive"),
        (["--single", "--draws", "0"], "--draws must be >= 1"),
    ],  # fmt: skip
)
def test_bad_arguments_are_one_line(args, expected, tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(tmp_path / "o.npz")],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.strip().splitlines() if "error:" in line]
    assert len(lines) == 1 and expected in lines[0], out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_unwritable_out_is_found_before_the_sweeps(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--single", "--out", str(tmp_path / "no" / "o.npz")],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and "its folder is not writable" in out.stderr
