"""Files of ``credax run``: written atomically with the user's umask, read back verified."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from credax._src.cli._config import fail


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: Path, write) -> None:
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
    atomic_write(path, lambda f: f.write(json.dumps(payload, indent=1).encode()))


def write_npz(path: Path, arrays: dict) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


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


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it cannot be read."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_block(path: Path, identity: dict, shape: tuple[int, int]) -> tuple[dict | None, str]:
    """A saved block, verified: readable (every array decompressed and CRC-checked), made with
    ``identity``, with ``shape = (seeds, draws)`` leading axes. Returns ``(arrays, problem)``:
    ``problem`` is "" when the block can be used, "settings" (arrays ``{"settings": ...}``)
    when it was made with other settings, or a description of the damage."""
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
    if made_with != identity:
        return {"settings": made_with}, "settings"
    if arrays["diverged_step"].shape != shape or any(
        a.shape[:2] != shape for k, a in arrays.items() if k.startswith("history_")
    ):
        return None, "arrays of the wrong shape"
    return arrays, ""


def block_path(out: Path, rule: str, b: int) -> Path:
    return out / rule / f"block_{b}.npz"


def try_load_rule(out: Path, rule: str, n_blocks: int, identity: dict, shape) -> dict | None:
    """A rule's arrays from all its blocks, concatenated over seeds, or None if one is missing,
    damaged or made with other settings."""
    parts = []
    for b in range(n_blocks):
        arrays, problem = read_block(block_path(out, rule, b), identity, shape)
        if problem:
            return None
        parts.append(arrays)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
